import Foundation

/// Wraps every `Linear` whose module name matches one of `targets` in a `LoRALinear`, and
/// freezes everything but the LoRA parameters, like PEFT's `get_peft_model`.
///
/// A target matches a module whose dotted name equals it or ends with `.` + target, as
/// PEFT's `target_modules` does: `"query"` matches `blocks.0.sa.heads.1.query`. A layer that
/// already has LoRA gets a further adapter named `adapterName`.
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
  useRSLoRA: Bool = false, adapterName: String = "default"
) throws -> [String] {
  var replaced: [String] = []
  var matchedTargets = Set<String>()
  for (parentName, parent) in model.namedModules {
    for (childName, child) in parent.namedChildren {
      let name = parentName.isEmpty ? childName : "\(parentName).\(childName)"
      let matching = targets.filter { name == $0 || name.hasSuffix("." + $0) }
      guard !matching.isEmpty else { continue }
      matchedTargets.formUnion(matching)
      if let layer = child as? LoRALinear {
        try layer.addAdapter(
          named: adapterName, rank: rank, alpha: alpha, dropout: dropout, useRSLoRA: useRSLoRA)
      } else if let linear = child as? Linear {
        let layer = LoRALinear(
          base: linear, rank: rank, alpha: alpha, dropout: dropout, useRSLoRA: useRSLoRA,
          adapterName: adapterName)
        try parent.replaceChild(named: childName, with: layer)
      } else {
        throw ModuleError.unsupportedTarget(name, type: String(describing: type(of: child)))
      }
      replaced.append(name)
    }
  }
  let unmatched = targets.filter { !matchedTargets.contains($0) }
  guard unmatched.isEmpty else {
    let available = model.namedModules.filter { $0.module is Linear }.map(\.name)
    throw ModuleError.noMatchingModules(targets: unmatched, available: available)
  }
  markOnlyLoRATrainable(model)
  return replaced
}

/// Freezes every parameter of `model` except the adapters' A and B.
public func markOnlyLoRATrainable(_ model: Module) {
  model.freeze()
  for layer in model.loraLayers.map(\.layer) {
    for adapter in layer.adapters {
      adapter.loraA.requiresGrad = true
      adapter.loraB.requiresGrad = true
    }
  }
}

extension Module {
  /// Every `LoRALinear` in the tree, with its dotted name.
  public var loraLayers: [(name: String, layer: LoRALinear)] {
    namedModules.compactMap { name, module in (module as? LoRALinear).map { (name, $0) } }
  }

  /// The names of the adapters on the model's LoRA layers, in the order they were added.
  public var adapterNames: [String] {
    var names: [String] = []
    for (_, layer) in loraLayers {
      for adapter in layer.adapters where !names.contains(adapter.name) {
        names.append(adapter.name)
      }
    }
    return names
  }

  /// Makes `name` the active adapter of every LoRA layer that has it.
  public func setActiveAdapter(_ name: String) throws {
    let layers = loraLayers.map(\.layer).filter { $0.adapters.contains { $0.name == name } }
    guard !layers.isEmpty else { throw ModuleError.noSuchAdapter(name, available: adapterNames) }
    for layer in layers { try layer.activateAdapter(name) }
  }

  /// Switches every adapter off, so the model computes its base output, or back on.
  public func disableAdapters(_ disabled: Bool = true) {
    for (_, layer) in loraLayers { layer.setAdaptersDisabled(disabled) }
  }

  /// Removes the adapter `name` from every LoRA layer.
  public func deleteAdapter(_ name: String) throws {
    let layers = loraLayers.map(\.layer).filter { $0.adapters.contains { $0.name == name } }
    guard !layers.isEmpty else { throw ModuleError.noSuchAdapter(name, available: adapterNames) }
    for layer in layers { try layer.removeAdapter(name) }
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
