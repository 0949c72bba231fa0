import Foundation

/// `adapter_config.json` as PEFT writes and reads it (the LoRA fields).
public struct AdapterConfig: Codable, Equatable, Sendable {
  /// Always `"LORA"`.
  public var peftType = "LORA"
  /// The rank r.
  public var r: Int
  /// The scaling numerator α.
  public var loraAlpha: Float
  /// Dropout on the LoRA path.
  public var loraDropout: Float
  /// The module names (or name suffixes) that carry the adapter.
  public var targetModules: [String]
  /// Whether scaling is α/√r.
  public var useRslora: Bool
  /// The base model the adapter was trained on.
  public var baseModelNameOrPath: String?
  /// Which biases train; LoRA here trains none.
  public var bias = "none"
  /// Whether the base stores weights transposed (GPT-2's Conv1D); never here.
  public var fanInFanOut = false
  /// Whether the adapter was saved for inference.
  public var inferenceMode = true

  enum CodingKeys: String, CodingKey {
    case peftType = "peft_type"
    case r
    case loraAlpha = "lora_alpha"
    case loraDropout = "lora_dropout"
    case targetModules = "target_modules"
    case useRslora = "use_rslora"
    case baseModelNameOrPath = "base_model_name_or_path"
    case bias
    case fanInFanOut = "fan_in_fan_out"
    case inferenceMode = "inference_mode"
  }

  /// A configuration from the adapter's hyperparameters.
  public init(
    r: Int, loraAlpha: Float, loraDropout: Float, targetModules: [String], useRslora: Bool,
    baseModelNameOrPath: String?
  ) {
    self.r = r
    self.loraAlpha = loraAlpha
    self.loraDropout = loraDropout
    self.targetModules = targetModules
    self.useRslora = useRslora
    self.baseModelNameOrPath = baseModelNameOrPath
  }

  /// Reads a configuration, taking PEFT's defaults for fields it leaves out.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    peftType = try container.decodeIfPresent(String.self, forKey: .peftType) ?? "LORA"
    r = try container.decodeIfPresent(Int.self, forKey: .r) ?? 8
    loraAlpha = try container.decodeIfPresent(Float.self, forKey: .loraAlpha) ?? 8
    loraDropout = try container.decodeIfPresent(Float.self, forKey: .loraDropout) ?? 0
    // PEFT allows a single string (a regular expression) here; only lists are supported.
    targetModules = try container.decodeIfPresent([String].self, forKey: .targetModules) ?? []
    useRslora = try container.decodeIfPresent(Bool.self, forKey: .useRslora) ?? false
    baseModelNameOrPath = try container.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
    bias = try container.decodeIfPresent(String.self, forKey: .bias) ?? "none"
    fanInFanOut = try container.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? false
    inferenceMode = try container.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? true
  }
}

/// An adapter folder that cannot be read, with the reason.
public struct AdapterFileError: Error, CustomStringConvertible, Equatable {
  /// The file or folder.
  public let path: String
  /// What is wrong.
  public let reason: String

  /// A message naming what went wrong and where.
  public var description: String { "\(path): \(reason)" }
}

/// The file names of a PEFT adapter folder.
public enum AdapterFiles {
  /// The hyperparameters.
  public static let config = "adapter_config.json"
  /// The weights.
  public static let weights = "adapter_model.safetensors"

  /// PEFT's name for an adapter tensor: `base_model.model.<module>.lora_A.weight`.
  public static func tensorName(module: String, matrix: String) -> String {
    "base_model.model.\(module).\(matrix).weight"
  }
}

extension Module {
  /// Saves one adapter as PEFT does: a folder with `adapter_config.json` and
  /// `adapter_model.safetensors`, whose tensors are named
  /// `base_model.model.<module>.lora_A.weight` (`[r, in]`) and `.lora_B.weight` (`[out, r]`).
  ///
  /// Each file is written atomically.
  public func saveAdapter(
    to directory: URL, adapterName: String = "default", baseModel: String? = nil
  ) throws {
    let layers = loraLayers.compactMap { name, layer in
      layer.adapters.first { $0.name == adapterName }.map { (name, $0) }
    }
    guard let first = layers.first?.1 else {
      throw ModuleError.noSuchAdapter(adapterName, available: adapterNames)
    }
    var targets: [String] = []
    var tensors: [String: Tensor] = [:]
    for (name, adapter) in layers {
      let leaf = String(name.split(separator: ".").last!)
      if !targets.contains(leaf) { targets.append(leaf) }
      tensors[AdapterFiles.tensorName(module: name, matrix: "lora_A")] = adapter.loraA
      tensors[AdapterFiles.tensorName(module: name, matrix: "lora_B")] = adapter.loraB
    }
    let config = AdapterConfig(
      r: first.rank, loraAlpha: first.alpha, loraDropout: first.dropout, targetModules: targets,
      useRslora: first.useRSLoRA, baseModelNameOrPath: baseModel)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(config).write(
      to: directory.appendingPathComponent(AdapterFiles.config), options: .atomic)
    try Safetensors(tensors: tensors).write(
      to: directory.appendingPathComponent(AdapterFiles.weights))
  }

  /// Loads a PEFT adapter folder as the adapter `adapterName` and makes it active.
  ///
  /// The layers named in the file get LoRA if they lack it. Everything is checked before the
  /// model changes: each tensor must have the shape its layer and rank imply, and the file's
  /// modules must be exactly those that the config's `target_modules` select in this model.
  ///
  /// - Returns: the names of the modules that received the adapter.
  @discardableResult
  public func loadAdapter(from directory: URL, adapterName: String = "default") throws -> [String] {
    let configURL = directory.appendingPathComponent(AdapterFiles.config)
    let config: AdapterConfig
    do {
      config = try JSONDecoder().decode(AdapterConfig.self, from: Data(contentsOf: configURL))
    } catch let error as DecodingError {
      throw AdapterFileError(
        path: configURL.path, reason: "is not a valid adapter config (\(error))")
    } catch {
      throw AdapterFileError(
        path: configURL.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    guard config.peftType == "LORA" else {
      throw AdapterFileError(
        path: configURL.path, reason: "is a \(config.peftType) adapter, not LORA")
    }
    let weights = try Safetensors(
      contentsOf: directory.appendingPathComponent(AdapterFiles.weights))
    let plan = try planAdapterLoad(config: config, tensors: weights.tensors)

    let targets = plan.map(\.module)
    guard !adapterNames.contains(adapterName) else {
      throw ModuleError.duplicateAdapter(adapterName)
    }
    try applyLoRA(
      to: self, targets: targets, rank: config.r, alpha: config.loraAlpha,
      dropout: config.loraDropout, useRSLoRA: config.useRslora, adapterName: adapterName)
    let layers = Dictionary(uniqueKeysWithValues: loraLayers.map { ($0.name, $0.layer) })
    for (module, a, b) in plan {
      let adapter = layers[module]!.adapters.first { $0.name == adapterName }!
      adapter.loraA.scalars = a.scalars
      adapter.loraB.scalars = b.scalars
    }
    try setActiveAdapter(adapterName)
    return targets
  }

  /// Matches an adapter file's tensors to this model's layers and checks every shape.
  private func planAdapterLoad(
    config: AdapterConfig, tensors: [String: Tensor]
  ) throws -> [(module: String, a: Tensor, b: Tensor)] {
    let linears = namedModules.compactMap { name, module in (module as? Linear).map { (name, $0) } }
    let selected = linears.filter { name, _ in
      config.targetModules.contains { name == $0 || name.hasSuffix("." + $0) }
    }
    guard !selected.isEmpty else {
      throw ModuleError.noMatchingModules(
        targets: config.targetModules, available: linears.map(\.0))
    }
    var plan: [(String, Tensor, Tensor)] = []
    var missing: [String] = []
    var used = Set<String>()
    for (name, layer) in selected {
      let aName = AdapterFiles.tensorName(module: name, matrix: "lora_A")
      let bName = AdapterFiles.tensorName(module: name, matrix: "lora_B")
      used.formUnion([aName, bName])
      guard let a = tensors[aName], let b = tensors[bName] else {
        missing += [aName, bName].filter { tensors[$0] == nil }
        continue
      }
      let expectedA = [config.r, layer.inFeatures]
      let expectedB = [layer.outFeatures, config.r]
      guard a.shape == expectedA else {
        throw ModuleError.shapeMismatch(tensor: aName, expected: expectedA, found: a.shape)
      }
      guard b.shape == expectedB else {
        throw ModuleError.shapeMismatch(tensor: bName, expected: expectedB, found: b.shape)
      }
      plan.append((name, a, b))
    }
    let unexpected = tensors.keys.filter { !used.contains($0) }.sorted()
    guard missing.isEmpty && unexpected.isEmpty && !plan.isEmpty else {
      throw ModuleError.keyMismatch(missing: missing, unexpected: unexpected)
    }
    return plan
  }
}
