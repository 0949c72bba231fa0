import Foundation

/// An adapter folder that cannot be read, with the reason.
public struct AdapterFileError: Error, CustomStringConvertible, Equatable {
  /// The file or folder.
  public let path: String
  /// What is wrong.
  public let reason: String

  /// A message naming what went wrong and where.
  public var description: String { "\(path): \(reason)" }
}

/// The file names and tensor names of a PEFT adapter folder.
public enum AdapterFiles {
  /// The hyperparameters.
  public static let config = "adapter_config.json"
  /// The weights.
  public static let weights = "adapter_model.safetensors"

  /// PEFT's name for an adapter tensor: `base_model.model.<module>.lora_A.weight`.
  public static func tensorName(module: String, matrix: String) -> String {
    "base_model.model.\(module).\(matrix).weight"
  }

  /// PEFT's name for a DoRA magnitude vector: `base_model.model.<module>.lora_magnitude_vector`.
  public static func magnitudeName(module: String) -> String {
    "base_model.model.\(module).lora_magnitude_vector"
  }

  /// PEFT's name for a parameter of a module in `modules_to_save`:
  /// `base_model.model.<module>.<parameter>`.
  public static func savedModuleTensorName(module: String, parameter: String) -> String {
    "base_model.model.\(module).\(parameter)"
  }
}

extension Module {
  /// Saves one adapter as PEFT's `save_pretrained` writes it, into `directory` itself:
  /// `adapter_config.json` and `adapter_model.safetensors`, whose tensors are named
  /// `base_model.model.<module>.lora_A.weight` (`[r, in]`) and `.lora_B.weight` (`[out, r]`),
  /// plus the full parameters of its `modules_to_save`. Each file is written atomically.
  ///
  /// The config selects, in PEFT, exactly the modules that carry the adapter, with their
  /// ranks and α (see `adapterConfig(for:)`).
  public func saveAdapter(
    to directory: URL, adapterName: String = "default", baseModel: String? = nil,
    taskType: String? = nil
  ) throws {
    var config = try adapterConfig(for: adapterName)
    config.baseModelNameOrPath = baseModel
    config.taskType = taskType
    var tensors: [String: Tensor] = [:]
    for (name, layer) in loraLayers {
      guard let adapter = layer.adapters.first(where: { $0.name == adapterName }) else { continue }
      tensors[AdapterFiles.tensorName(module: name, matrix: "lora_A")] = adapter.loraA
      tensors[AdapterFiles.tensorName(module: name, matrix: "lora_B")] = adapter.loraB
      if let magnitude = adapter.magnitude {
        tensors[AdapterFiles.magnitudeName(module: name)] = magnitude
      }
    }
    for (name, module, copies) in modulesWithCopies {
      guard let values = copies.copy(for: adapterName, of: module.parameters) else { continue }
      for ((parameter, tensor), scalars) in zip(module.namedParameters, values) {
        tensors[AdapterFiles.savedModuleTensorName(module: name, parameter: parameter)] =
          Tensor(shape: tensor.shape, scalars: scalars)
      }
    }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try FileWrites.write(
      Data((config.json.serialized() + "\n").utf8),
      to: directory.appendingPathComponent(AdapterFiles.config))
    try Safetensors(tensors: tensors, metadata: ["format": "pt"]).write(
      to: directory.appendingPathComponent(AdapterFiles.weights))
  }

  /// Saves every adapter as PEFT's `save_pretrained(directory)` lays several out: the one
  /// named `"default"` in `directory`, each other one in `directory/<name>/`.
  public func saveAdapters(to directory: URL, baseModel: String? = nil, taskType: String? = nil)
    throws
  {
    guard !adapterNames.isEmpty else { throw ModuleError.noSuchAdapter("default", available: []) }
    for name in adapterNames {
      let folder = name == "default" ? directory : directory.appendingPathComponent(name)
      try saveAdapter(to: folder, adapterName: name, baseModel: baseModel, taskType: taskType)
    }
  }

  /// The `adapter_config.json` that describes the adapter `adapterName` as it is on this
  /// model: `target_modules` as the last name segments when they select exactly the adapted
  /// modules (`["query", "value"]`), otherwise as full names; the most common rank and α as
  /// `r` and `lora_alpha`, the others in `rank_pattern` and `alpha_pattern`; and the
  /// modules it keeps whole in `modules_to_save`. The result is checked with PEFT's
  /// selection rules before it is returned.
  public func adapterConfig(for adapterName: String) throws -> AdapterConfig {
    let adapted = loraLayers.compactMap { name, layer in
      layer.adapters.first { $0.name == adapterName }.map { (name: name, adapter: $0) }
    }
    let saved = modulesWithCopies.filter { $0.copies.adapters.contains(adapterName) }.map(\.name)
    guard let first = adapted.first?.adapter else {
      throw ModuleError.noSuchAdapter(adapterName, available: adapterNames)
    }
    let rank = mostCommon(adapted.map(\.adapter.rank))
    let alpha = mostCommon(adapted.map(\.adapter.alpha))
    let names = adapted.map(\.name)
    // Shortest first: last segments, then full names; patterns by segment, then by name.
    let candidates = [uniqueLeaves(names), names].flatMap { targets in
      [true, false].map { grouped in
        var config = AdapterConfig(
          r: rank, loraAlpha: alpha, loraDropout: first.dropout, useRSLoRA: first.useRSLoRA,
          useDoRA: first.useDoRA, initLoRAWeights: first.initialisation,
          targetModules: .names(targets),
          rankPattern: patternEntries(
            adapted.map { ($0.name, $0.adapter.rank) }, default: rank, grouped: grouped),
          alphaPattern: patternEntries(
            adapted.map { ($0.name, $0.adapter.alpha) }, default: alpha, grouped: grouped),
          modulesToSave: saved.isEmpty ? nil : saved)
        config.peftVersion = AdapterConfig.peftFormatVersion
        // PEFT's flag for Conv1D targets, whose weights are [in, out].
        config.fanInFanOut = loraLayers.contains { $0.layer.layout == .inOut }
        return config
      }
    }
    let exact = candidates.first { config in
      guard let selection = try? config.selectModules(in: self) else { return false }
      return selection.map(\.name) == names
        && zip(selection, adapted).allSatisfy {
          $0.rank == $1.adapter.rank && $0.alpha == $1.adapter.alpha
        }
    }
    // Full names with a key per module always select exactly what was adapted.
    return exact ?? candidates.last!
  }

  /// Loads a PEFT adapter folder (`adapter_config.json` and `adapter_model.safetensors`) as
  /// the adapter `adapterName` and makes it active, as `PeftModel.from_pretrained` or
  /// `load_adapter` does.
  ///
  /// The config is read in full (`AdapterConfig(contentsOf:)` refuses what this library
  /// cannot honour, naming the field), the modules are selected by PEFT's rules, and every
  /// tensor is checked (names, shapes, nothing missing or left over) before the model
  /// changes.
  ///
  /// - Returns: the names of the modules that received LoRA.
  @discardableResult
  public func loadAdapter(from directory: URL, adapterName: String = "default") throws -> [String] {
    let configURL = directory.appendingPathComponent(AdapterFiles.config)
    let config = try AdapterConfig(contentsOf: configURL)
    guard !adapterNames.contains(adapterName) else {
      throw ModuleError.duplicateAdapter(adapterName)
    }
    let weightsURL = directory.appendingPathComponent(AdapterFiles.weights)
    let tensors = try Safetensors(contentsOf: weightsURL).tensors
    let selected = try config.selectModules(in: self)
    let savedModules = try modulesMatching(toSave: config.modulesToSave ?? [])
    // The flag only says how the targets store their weights, which the layers know; PEFT
    // corrects a wrong one with a warning, and so does this.
    let layouts = Set(selected.map(\.layer.layout))
    if config.fanInFanOut, layouts.contains(.outIn) {
      warn(
        "\(configURL.path): fan_in_fan_out is true, but targets are Linear layers, whose "
          + "weight is [out, in]; it is set to false for them, as PEFT does")
    } else if !config.fanInFanOut, layouts.contains(.inOut) {
      warn(
        "\(configURL.path): fan_in_fan_out is false, but targets are Conv1D layers, whose "
          + "weight is [in, out]; it is set to true for them, as PEFT does")
    }

    // Match every tensor of the file to a place in the model, checking shapes.
    var expected: [(name: String, shape: [Int])] = []
    for module in selected {
      expected.append(
        (
          AdapterFiles.tensorName(module: module.name, matrix: "lora_A"),
          [module.rank, module.layer.inFeatures]
        ))
      expected.append(
        (
          AdapterFiles.tensorName(module: module.name, matrix: "lora_B"),
          [module.layer.outFeatures, module.rank]
        ))
      if config.useDoRA {
        expected.append(
          (AdapterFiles.magnitudeName(module: module.name), [module.layer.outFeatures]))
      }
    }
    let modules = Dictionary(
      namedModules.map { ($0.name, $0.module) }, uniquingKeysWith: { a, _ in a })
    for name in savedModules {
      for (parameter, tensor) in modules[name]!.namedParameters {
        expected.append(
          (AdapterFiles.savedModuleTensorName(module: name, parameter: parameter), tensor.shape))
      }
    }
    let missing = expected.map(\.name).filter { tensors[$0] == nil }
    let expectedNames = Set(expected.map(\.name))
    let unexpected = tensors.keys.filter { !expectedNames.contains($0) }.sorted()
    guard missing.isEmpty && unexpected.isEmpty else {
      throw AdapterFileError(
        path: weightsURL.path,
        reason: ModuleError.keyMismatch(missing: missing, unexpected: unexpected).description
          + " (the adapter config selects \(selected.count) modules in this model)")
    }
    for (name, shape) in expected where tensors[name]!.shape != shape {
      throw ModuleError.shapeMismatch(tensor: name, expected: shape, found: tensors[name]!.shape)
    }

    try inject(selected, keeping: savedModules, config: config, adapterName: adapterName)
    let layers = Dictionary(uniqueKeysWithValues: loraLayers.map { ($0.name, $0.layer) })
    for module in selected {
      let adapter = layers[module.name]!.adapters.first { $0.name == adapterName }!
      adapter.loraA.scalars =
        tensors[AdapterFiles.tensorName(module: module.name, matrix: "lora_A")]!.scalars
      adapter.loraB.scalars =
        tensors[AdapterFiles.tensorName(module: module.name, matrix: "lora_B")]!.scalars
      adapter.magnitude?.scalars = tensors[AdapterFiles.magnitudeName(module: module.name)]!.scalars
    }
    for name in savedModules {
      let module = modules[name]!
      let values = module.namedParameters.map { parameter, _ in
        tensors[AdapterFiles.savedModuleTensorName(module: name, parameter: parameter)]!.scalars
      }
      module.parameterCopies?.setCopy(for: adapterName, values: values, of: module.parameters)
    }
    return selected.map(\.name)
  }

  /// Loads every adapter of a folder that `saveAdapters(to:)` or PEFT's `save_pretrained`
  /// wrote: the one at its root as `"default"`, each subfolder holding an
  /// `adapter_config.json` under the subfolder's name. The default one (or the first) is
  /// active afterwards.
  ///
  /// - Returns: the names of the adapters loaded.
  @discardableResult
  public func loadAdapters(from directory: URL) throws -> [String] {
    var loaded: [String] = []
    let manager = FileManager.default
    if manager.fileExists(atPath: directory.appendingPathComponent(AdapterFiles.config).path) {
      try loadAdapter(from: directory, adapterName: "default")
      loaded.append("default")
    }
    let entries = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
    for entry in entries.sorted() {
      let folder = directory.appendingPathComponent(entry)
      guard manager.fileExists(atPath: folder.appendingPathComponent(AdapterFiles.config).path)
      else { continue }
      try loadAdapter(from: folder, adapterName: entry)
      loaded.append(entry)
    }
    guard let first = loaded.first else {
      throw AdapterFileError(
        path: directory.path, reason: "holds no \(AdapterFiles.config), nor any subfolder with one")
    }
    try setActiveAdapter(first)
    return loaded
  }
}

extension AdapterConfig {
  /// The config as PEFT 0.21 writes it: every field of its `LoraConfig`, keys sorted.
  public var json: JSONValue {
    func selector(_ value: ModuleSelector?) -> JSONValue {
      switch value {
      case .names(let names): return .array(names.map { .string($0) })
      case .pattern(let pattern): return .string(pattern)
      case nil: return .null
      }
    }
    func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
    let fields: [(key: String, value: JSONValue)] = [
      ("alora_invocation_tokens", .null),
      ("alpha_pattern", .object(alphaPattern.map { ($0.key, .number(decimal($0.value))) })),
      ("arrow_config", .null),
      ("auto_mapping", .null),
      ("base_model_name_or_path", optional(baseModelNameOrPath)),
      ("bias", .string("none")),
      ("corda_config", .null),
      ("ensure_weight_tying", .bool(false)),
      ("eva_config", .null),
      ("exclude_modules", selector(excludeModules)),
      ("fan_in_fan_out", .bool(fanInFanOut)),
      ("inference_mode", .bool(inferenceMode)),
      ("init_lora_weights", initLoRAWeights.json),
      ("kasa_config", .null),
      ("layer_replication", .null),
      ("layers_pattern", layersPattern.map { .array($0.map { .string($0) }) } ?? .null),
      (
        "layers_to_transform",
        layersToTransform.map { .array($0.map { .number(Double($0)) }) } ?? .null
      ),
      ("loftq_config", .object([])),
      ("lora_alpha", .number(decimal(loraAlpha))),
      ("lora_bias", .bool(false)),
      ("lora_dropout", .number(decimal(loraDropout))),
      ("lora_ga_config", .null),
      ("megatron_config", .null),
      ("megatron_core", .string("megatron.core")),
      ("modules_to_save", modulesToSave.map { .array($0.map { .string($0) }) } ?? .null),
      ("monteclora_config", .null),
      ("peft_type", .string("LORA")),
      ("peft_version", optional(peftVersion ?? AdapterConfig.peftFormatVersion)),
      ("qalora_group_size", .number(16)),
      ("r", .number(Double(r))),
      ("rank_pattern", .object(rankPattern.map { ($0.key, .number(Double($0.value))) })),
      ("revision", optional(revision)),
      ("target_modules", selector(targetModules)),
      ("target_parameters", .null),
      ("task_type", optional(taskType)),
      ("trainable_token_indices", .null),
      ("use_bdlora", .null),
      ("use_dora", .bool(useDoRA)),
      ("use_qalora", .bool(false)),
      ("use_rslora", .bool(useRSLoRA)),
      ("velora_config", .null),
    ]
    return .object(fields)
  }
}

/// A Float as the Double of its shortest decimal form, so that 0.1 is written `0.1`, as
/// Python writes the same number, not `0.10000000149011612`.
private func decimal(_ value: Float) -> Double {
  Double("\(value)") ?? Double(value)
}

/// The value that occurs most often, the earliest of equals.
private func mostCommon<T: Hashable>(_ values: [T]) -> T {
  var counts: [T: Int] = [:]
  for value in values { counts[value, default: 0] += 1 }
  return values.max { counts[$0]! < counts[$1]! }!  // max(by:) keeps the first of equals
}

/// The distinct last segments of dotted names, in order.
private func uniqueLeaves(_ names: [String]) -> [String] {
  var leaves: [String] = []
  for name in names {
    let leaf = String(name.split(separator: ".").last!)
    if !leaves.contains(leaf) { leaves.append(leaf) }
  }
  return leaves
}

/// Pattern entries for the modules whose value is not `default`: by last name segment when
/// `grouped` and every module of that segment agrees, otherwise by the full name, escaped so
/// that it matches only itself.
private func patternEntries<Value: Equatable & Sendable>(
  _ values: [(name: String, value: Value)], default: Value, grouped: Bool
) -> [PatternEntry<Value>] {
  var entries: [PatternEntry<Value>] = []
  var covered = Set<String>()
  for (name, value) in values where value != `default` && !covered.contains(name) {
    let leaf = String(name.split(separator: ".").last!)
    let sameLeaf = values.filter { $0.name.split(separator: ".").last.map(String.init) == leaf }
    if grouped, sameLeaf.allSatisfy({ $0.value == value }) {
      entries.append(PatternEntry(leaf, value))
      covered.formUnion(sameLeaf.map(\.name))
    } else {
      entries.append(PatternEntry(NSRegularExpression.escapedPattern(for: name), value))
      covered.insert(name)
    }
  }
  return entries
}

/// A warning on standard error, as PEFT's `warnings.warn`.
func warn(_ message: String) {
  FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
