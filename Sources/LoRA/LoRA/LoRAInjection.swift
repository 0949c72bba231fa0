import Foundation

/// Wraps every `Linear` whose module name matches one of `targets` in a `LoRALinear`, and
/// freezes everything but the LoRA parameters, like PEFT's `get_peft_model`.
///
/// A target matches a module whose dotted name equals it or ends with `.` + target, as
/// PEFT's `target_modules` does: `"query"` matches `blocks.0.sa.heads.1.query`. A layer that
/// already has LoRA gets a further adapter named `adapterName`. For regular expressions,
/// exclusions, per-module ranks and the rest of PEFT's options, pass an `AdapterConfig`.
///
/// ```swift
/// let replaced = try applyLoRA(to: model, targets: ["query", "value"], rank: 4, alpha: 8)
/// print(parameterReport(model))
/// ```
///
/// - Returns: the names of the modules that received the adapter.
/// - Throws: `ModuleError.noMatchingModules` listing the modules available when a target
///   matches nothing (PEFT would silently train nothing); `ModuleError.unsupportedTarget`
///   when a target names something other than a `Linear`.
@discardableResult
public func applyLoRA(
  to model: Module, targets: [String], rank: Int, alpha: Float, dropout: Float = 0,
  useRSLoRA: Bool = false, useDoRA: Bool = false, adapterName: String = "default"
) throws -> [String] {
  try applyLoRA(
    to: model,
    config: AdapterConfig(
      r: rank, loraAlpha: alpha, loraDropout: dropout, useRSLoRA: useRSLoRA, useDoRA: useDoRA,
      targetModules: .names(targets)),
    adapterName: adapterName)
}

/// Adds the adapter `adapterName` that `config` describes, as
/// `get_peft_model(model, LoraConfig(...))` (or `add_adapter`) does: LoRA on the modules
/// `config.selectModules(in:)` selects, each with its own rank and α, a trainable copy of
/// each module in `modulesToSave`, and everything else frozen.
///
/// ```swift
/// let config = AdapterConfig(
///   r: 8, loraAlpha: 16, targetModules: .pattern(#"blocks\.\d+\.sa\.heads\.\d+\.(query|value)"#),
///   rankPattern: [PatternEntry("blocks.0.sa.heads.0.query", 4)], modulesToSave: ["lm_head"])
/// try applyLoRA(to: model, config: config)
/// ```
///
/// - Returns: the names of the modules that received LoRA.
@discardableResult
public func applyLoRA(
  to model: Module, config: AdapterConfig, adapterName: String = "default"
) throws -> [String] {
  guard !model.adapterNames.contains(adapterName) else {
    throw ModuleError.duplicateAdapter(adapterName)
  }
  let selected = try config.selectModules(in: model)
  let savedModules = try model.modulesMatching(toSave: config.modulesToSave ?? [])
  try model.inject(selected, keeping: savedModules, config: config, adapterName: adapterName)
  return selected.map(\.name)
}

extension Module {
  /// Puts the adapter `adapterName` on modules already selected (`selectModules(in:)`) and
  /// gives it a copy of each module in `saved`; then makes it active and freezes the rest.
  func inject(
    _ selected: [SelectedModule], keeping saved: [String], config: AdapterConfig,
    adapterName: String
  ) throws {
    // PiSSA and OLoRA rewrite the base: what they cannot do is refused before anything changes.
    if config.initLoRAWeights != .standard {
      for module in selected {
        guard !module.layer.isQuantized else {
          throw FactorizationError(
            description: "\(module.name): PiSSA and OLoRA rewrite the base weight, which is "
              + "quantized here; call dequantize() first, then quantize the residual model again")
        }
        if config.initLoRAWeights == .olora && module.layer.layout == .inOut {
          throw FactorizationError(
            description: "\(module.name): OLoRA on a Conv1D: PEFT factors its [in, out] weight "
              + "as it is stored, which gives A and B the wrong shapes; use PiSSA")
        }
        guard module.rank <= min(module.layer.inFeatures, module.layer.outFeatures) else {
          throw FactorizationError(
            description: "\(module.name): rank \(module.rank) is more than its weight's "
              + "\(min(module.layer.inFeatures, module.layer.outFeatures)) factors")
        }
      }
    }
    let parents = Dictionary(
      namedModules.flatMap { parentName, parent in
        parent.namedChildren.map { childName, _ in
          (parentName.isEmpty ? childName : "\(parentName).\(childName)", (parent, childName))
        }
      }, uniquingKeysWith: { first, _ in first })
    for module in selected {
      if let layer = module.layer as? LoRALinear {
        try layer.addAdapter(
          named: adapterName, rank: module.rank, alpha: module.alpha,
          dropout: config.loraDropout, useRSLoRA: config.useRSLoRA, useDoRA: config.useDoRA)
      } else {
        let layer = LoRALinear(
          base: module.layer, rank: module.rank, alpha: module.alpha,
          dropout: config.loraDropout, useRSLoRA: config.useRSLoRA, useDoRA: config.useDoRA,
          adapterName: adapterName)
        let (parent, childName) = parents[module.name]!
        try parent.replaceChild(named: childName, with: layer)
      }
    }
    if config.initLoRAWeights != .standard {
      let layers = Dictionary(uniqueKeysWithValues: loraLayers.map { ($0.name, $0.layer) })
      for module in selected {
        try layers[module.name]!.initialiseFromBase(
          adapter: adapterName, config.initLoRAWeights)
      }
    }
    for name in saved { addModuleCopy(named: name, for: adapterName) }
    try setActiveAdapter(adapterName)
    markOnlyLoRATrainable(self)
  }
}

extension Module {
  /// The modules that `modules_to_save` entries name: PEFT keeps a module whose dotted name
  /// ends with an entry. An entry that names nothing is an error.
  func modulesMatching(toSave entries: [String]) throws -> [String] {
    let names = namedModules.map(\.name).filter { !$0.isEmpty }
    var result: [String] = []
    for entry in entries {
      let matches = names.filter { $0.hasSuffix(entry) }
      guard !matches.isEmpty else {
        throw ModuleError.selectorMatchesNothing(
          field: "modules_to_save", entries: [entry], available: names)
      }
      // A module inside one already kept is saved with it.
      for name in matches where !result.contains(where: { name.hasPrefix($0 + ".") }) {
        result.append(name)
      }
    }
    return result
  }
}

/// Freezes every parameter of `model` except the adapters' A and B (and DoRA's magnitude
/// vector: PEFT trains every parameter named `lora_`), and the copies of `modules_to_save`
/// that the active adapter trains.
public func markOnlyLoRATrainable(_ model: Module) {
  model.freeze()
  for layer in model.loraLayers.map(\.layer) {
    for adapter in layer.adapters {
      adapter.loraA.requiresGrad = true
      adapter.loraB.requiresGrad = true
      adapter.magnitude?.requiresGrad = true
    }
  }
  for (_, module, copies) in model.modulesWithCopies where copies.active != nil {
    module.unfreeze()
  }
}

extension Module {
  /// Every `LoRALinear` in the tree, with its dotted name.
  public var loraLayers: [(name: String, layer: LoRALinear)] {
    namedModules.compactMap { name, module in (module as? LoRALinear).map { (name, $0) } }
  }

  /// The names of the adapters on the model (on its LoRA layers, or with copies of
  /// `modules_to_save`), in the order they were added.
  public var adapterNames: [String] {
    var names: [String] = []
    for (_, layer) in loraLayers {
      for adapter in layer.adapters where !names.contains(adapter.name) {
        names.append(adapter.name)
      }
    }
    for (_, _, copies) in modulesWithCopies {
      for adapter in copies.adapters where !names.contains(adapter) { names.append(adapter) }
    }
    return names
  }

  /// The adapter the model computes with, or `nil` when none is active or all are disabled.
  public var currentAdapter: String? {
    let layers = loraLayers.map(\.layer)
    if layers.first?.adaptersDisabled == true { return nil }
    return layers.lazy.compactMap(\.activeAdapterName).first
      ?? modulesWithCopies.lazy.compactMap(\.copies.active).first
  }

  /// Makes `name` the model's active adapter, as PEFT's `set_adapter`: every LoRA layer that
  /// has it uses it, every other LoRA layer computes its base output, and its copies of
  /// `modules_to_save` are put in place (the modules' own values where it has none).
  public func setActiveAdapter(_ name: String) throws {
    guard adapterNames.contains(name) else {
      throw ModuleError.noSuchAdapter(name, available: adapterNames)
    }
    for layer in loraLayers.map(\.layer) {
      if layer.adapters.contains(where: { $0.name == name }) {
        try layer.activateAdapter(name)
      } else {
        layer.deactivateAdapters()
      }
    }
    for (_, module, copies) in modulesWithCopies { copies.activate(name, in: module.parameters) }
  }

  /// Switches every adapter off, so the model computes its base output, or back on.
  public func disableAdapters(_ disabled: Bool = true) {
    let active = loraLayers.lazy.compactMap(\.layer.activeAdapterName).first
    for (_, layer) in loraLayers { layer.setAdaptersDisabled(disabled) }
    for (_, module, copies) in modulesWithCopies {
      copies.activate(disabled ? nil : active ?? copies.adapters.first, in: module.parameters)
    }
  }

  /// Removes the adapter `name` from every LoRA layer and module copy.
  public func deleteAdapter(_ name: String) throws {
    guard adapterNames.contains(name) else {
      throw ModuleError.noSuchAdapter(name, available: adapterNames)
    }
    for layer in loraLayers.map(\.layer) where layer.adapters.contains(where: { $0.name == name }) {
      try layer.removeAdapter(name)
    }
    for (_, module, copies) in modulesWithCopies {
      copies.removeCopy(for: name, in: module.parameters)
      if copies.adapters.isEmpty { module.parameterCopies = nil }
    }
  }

  /// Merges the active adapter of every LoRA layer into its base weight.
  public func mergeAdapters() {
    for (_, layer) in loraLayers { layer.merge() }
  }

  /// Restores every LoRA layer's base weight to its exact values from before merging.
  public func unmergeAdapters() {
    for (_, layer) in loraLayers { layer.unmerge() }
  }
}

/// How many parameters a model has and how many of them train, as PEFT's
/// `print_trainable_parameters` reports it, with frozen counts and bytes.
public struct ParameterReport: CustomStringConvertible, Sendable, Equatable {
  /// Elements in parameters that require gradients.
  public let trainable: Int
  /// Elements in all parameters.
  public let total: Int
  /// Elements in frozen parameters.
  public var frozen: Int { total - trainable }
  /// The share of parameters that train, in percent.
  public var trainablePercent: Double { total == 0 ? 0 : 100 * Double(trainable) / Double(total) }
  /// Bytes of trainable parameters (float32).
  public var trainableBytes: Int { trainable * MemoryLayout<Float>.size }
  /// Bytes of frozen parameters (float32).
  public var frozenBytes: Int { frozen * MemoryLayout<Float>.size }

  /// A report from counts.
  public init(trainable: Int, total: Int) {
    self.trainable = trainable
    self.total = total
  }

  /// `trainable params: 800 || all params: 10,800 || trainable%: 7.4074`, then the frozen
  /// count and the bytes of each part.
  public var description: String {
    "trainable params: \(grouped(trainable)) || all params: \(grouped(total)) || trainable%: "
      + String(format: "%.4f", trainablePercent) + "\n"
      + "frozen params: \(grouped(frozen)) || trainable bytes: \(grouped(trainableBytes)) || "
      + "frozen bytes: \(grouped(frozenBytes))"
  }
}

/// The parameter counts of `model`.
public func parameterReport(_ model: Module) -> ParameterReport {
  let parameters = model.parameters
  return ParameterReport(
    trainable: parameters.filter(\.requiresGrad).reduce(0) { $0 + $1.count },
    total: parameters.reduce(0) { $0 + $1.count })
}

/// `10800` as `10,800`.
func grouped(_ value: Int) -> String {
  let digits = String(value.magnitude)
  var result = ""
  for (index, digit) in digits.enumerated() {
    if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
    result.append(digit)
  }
  return (value < 0 ? "-" : "") + result
}
