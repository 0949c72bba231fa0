import Foundation

/// A module's structure and flags, as `Module.savedState()` records them.
struct ModuleLayout: Codable, Equatable {
  /// One parameter: its name, shape, and whether it trains and has a gradient.
  struct Parameter: Codable, Equatable {
    var name: String
    var shape: [Int]
    var requiresGrad: Bool
    var hasGrad: Bool
  }
  /// One `LoRALinear`: where it is, its adapters and which is active, disabled or merged.
  struct LoRALayer: Codable, Equatable {
    var path: String
    var adapters: [AdapterSpec]
    var active: String?
    var disabled: Bool
    var merged: String?
  }

  var parameters: [Parameter]
  var loraLayers: [LoRALayer]
  /// The modules in evaluation mode, by dotted name.
  var evaluating: [String]
}

extension Module: Restorable {
  /// The module's whole state: every parameter's values, `requiresGrad` and gradient; its
  /// LoRA layers with their adapters (active, disabled, merged); and which submodules are
  /// in evaluation mode.
  ///
  /// - Throws: `RestoreError` for a module with copies of `modules_to_save`, which a saved
  ///   state does not cover.
  public func savedState() throws -> SavedState {
    if let (name, _, _) = modulesWithCopies.first {
      throw RestoreError(
        "\(type(of: self)): the copies that modules_to_save keeps of `\(name)` cannot be "
          + "saved and restored")
    }
    var tensors: [String: Tensor] = [:]
    var parameters: [ModuleLayout.Parameter] = []
    for (name, parameter) in namedParameters {
      parameters.append(
        .init(
          name: name, shape: parameter.shape, requiresGrad: parameter.requiresGrad,
          hasGrad: parameter.grad != nil))
      tensors["value/" + name] = Tensor(shape: parameter.shape, scalars: parameter.scalars)
      if let grad = parameter.grad {
        tensors["grad/" + name] = Tensor(shape: grad.shape, scalars: grad.scalars)
      }
    }
    let layers = loraLayers.map { path, layer in
      if let weight = layer.unmergedWeight {
        tensors["unmerged/" + path] = Tensor(shape: layer.weight.shape, scalars: weight)
      }
      return ModuleLayout.LoRALayer(
        path: path,
        adapters: layer.adapters.map(AdapterSpec.init),
        active: layer.activeAdapterName, disabled: layer.adaptersDisabled,
        merged: layer.mergedAdapterName)
    }
    let layout = ModuleLayout(
      parameters: parameters, loraLayers: layers,
      evaluating: namedModules.filter { !$0.module.isTraining }.map(\.name))
    return SavedState(layout: try JSONEncoder.stateLayout.encode(layout), tensors: tensors)
  }

  /// Puts a state saved from this module back: first its LoRA layers (wrapping a `Linear`
  /// again where an adapter was applied since, and giving each layer exactly its saved
  /// adapters), then every parameter's values, `requiresGrad` and gradient, then the
  /// training flags. Tensors the module already has keep their identity, so optimizers
  /// that hold them stay attached.
  ///
  /// - Throws: `RestoreError` naming what differs when the state does not fit: another
  ///   architecture, a layer that is no longer a `Linear`, a parameter of another shape.
  public func restore(_ state: SavedState) throws {
    let layout: ModuleLayout
    do {
      layout = try JSONDecoder().decode(ModuleLayout.self, from: state.layout)
    } catch {
      throw RestoreError("\(type(of: self)): the saved state is not a module's (\(error))")
    }
    if let (name, _, _) = modulesWithCopies.first {
      throw RestoreError(
        "\(type(of: self)): the copies that modules_to_save keeps of `\(name)` cannot be "
          + "restored")
    }
    try restoreLoRALayers(layout.loraLayers, unmerged: state.tensors)
    let current = namedParameters
    guard current.map(\.name) == layout.parameters.map(\.name) else {
      let missing = Set(layout.parameters.map(\.name)).subtracting(current.map(\.name))
      let extra = Set(current.map(\.name)).subtracting(layout.parameters.map(\.name))
      throw RestoreError(
        "\(type(of: self)): its parameters are not the saved ones (missing: "
          + "\(missing.sorted().prefix(3)), not saved: \(extra.sorted().prefix(3)))")
    }
    for ((name, parameter), saved) in zip(current, layout.parameters) {
      guard parameter.shape == saved.shape, let value = state.tensors["value/" + name],
        value.count == parameter.count
      else {
        throw RestoreError(
          "\(type(of: self)): parameter \(name) has shape \(parameter.shape), saved "
            + "\(saved.shape)")
      }
      let gradient = saved.hasGrad ? state.tensors["grad/" + name] : nil
      if let gradient, gradient.shape != parameter.shape {
        throw RestoreError(
          "\(type(of: self)): the gradient of \(name) has shape \(gradient.shape), the "
            + "parameter \(parameter.shape)")
      }
      parameter.scalars = value.scalars
      parameter.requiresGrad = saved.requiresGrad
      parameter.grad = gradient?.detach()
    }
    let evaluating = Set(layout.evaluating)
    for (name, module) in namedModules { module.setTraining(!evaluating.contains(name)) }
  }

  /// Gives every LoRA layer of `layers` exactly its saved adapters, wrapping the `Linear`
  /// at a path that has none yet.
  private func restoreLoRALayers(
    _ layers: [ModuleLayout.LoRALayer], unmerged: [String: Tensor]
  ) throws {
    // Every entry is checked before any layer changes: a state changed on disk is refused
    // whole, never half restored, and never traps.
    for entry in layers {
      let names = entry.adapters.map(\.name)
      guard Set(names).count == names.count,
        entry.adapters.allSatisfy({
          (1...(1 << 16)).contains($0.rank) && $0.alpha.isFinite && (0..<1).contains($0.dropout)
        }),
        entry.active.map(names.contains) ?? true, entry.merged.map(names.contains) ?? true
      else {
        throw RestoreError(
          "\(type(of: self)): the saved adapters of \(entry.path) do not fit together (ranks, "
            + "α, dropout, or an active or merged adapter it does not have)")
      }
    }
    let saved = Set(layers.map(\.path))
    if let stray = loraLayers.first(where: { !saved.contains($0.name) }) {
      throw RestoreError(
        "\(type(of: self)): \(stray.name) has LoRA now but not in the saved state, and a "
          + "LoRA layer cannot be unwrapped")
    }
    for entry in layers {
      let modules = Dictionary(namedModules, uniquingKeysWith: { first, _ in first })
      guard let module = modules[entry.path] else {
        throw RestoreError("\(type(of: self)): it has no module \(entry.path) to restore")
      }
      let layer: LoRALinear
      if let existing = module as? LoRALinear {
        layer = existing
      } else if let linear = module as? Linear, let first = entry.adapters.first {
        layer = LoRALinear(
          base: linear, rank: first.rank, alpha: first.alpha, dropout: first.dropout,
          useRSLoRA: first.useRSLoRA, useDoRA: first.useDoRA, adapterName: first.name)
        try replaceModule(at: entry.path, with: layer)
      } else {
        throw RestoreError(
          "\(type(of: self)): \(entry.path) is a \(type(of: module)), not a Linear that LoRA "
            + "can wrap")
      }
      let original = unmerged["unmerged/" + entry.path]
      if let original, original.count != layer.weight.count {
        throw RestoreError(
          "\(type(of: self)): the unmerged weight saved for \(entry.path) has \(original.count) "
            + "values, the layer \(layer.weight.count)")
      }
      layer.restoreAdapters(
        entry.adapters, active: entry.active, disabled: entry.disabled, merged: entry.merged,
        unmergedWeight: original?.scalars)
    }
  }

  /// Puts `replacement` at the dotted `path`.
  private func replaceModule(at path: String, with replacement: Module) throws {
    for (parentName, parent) in namedModules {
      for (childName, _) in parent.namedChildren
      where (parentName.isEmpty ? childName : parentName + "." + childName) == path {
        try parent.replaceChild(named: childName, with: replacement)
        return
      }
    }
    throw RestoreError("\(type(of: self)): no module \(path) to replace")
  }
}
