/// Full copies of one module's parameters, one per adapter, as PEFT's `modules_to_save`
/// keeps them (its `ModulesToSaveWrapper`): while an adapter that has a copy is active, the
/// module computes with, and trains, that copy; otherwise it computes with its own values.
///
/// The copies live in the module's own tensors, swapped in and out on activation, so the
/// module keeps its type, its forward pass and its parameter names.
final class ParameterCopies {
  /// The module's own values, while a copy is in its tensors.
  private var original: [[Float]]?
  /// Each adapter's values, while another set is in the tensors.
  private var parked: [String: [[Float]]] = [:]
  /// The adapter whose copy is in the tensors, or `nil` for the module's own values.
  private(set) var active: String?
  /// The adapters that have a copy.
  private(set) var adapters: [String] = []

  /// Adds a copy for `adapter`, starting from the module's own values.
  func addCopy(for adapter: String, of tensors: [Tensor]) {
    if !adapters.contains(adapter) { adapters.append(adapter) }
    parked[adapter] = ownValues(tensors)
  }

  /// Replaces `adapter`'s copy with `values` (from a file).
  func setCopy(for adapter: String, values: [[Float]], of tensors: [Tensor]) {
    if active == adapter {
      for (tensor, scalars) in zip(tensors, values) { tensor.scalars = scalars }
    } else {
      parked[adapter] = values
    }
  }

  /// `adapter`'s values, wherever they are now.
  func copy(for adapter: String, of tensors: [Tensor]) -> [[Float]]? {
    active == adapter ? tensors.map(\.scalars) : parked[adapter]
  }

  /// Puts `adapter`'s copy in the tensors, or the module's own values when it has none
  /// (or `adapter` is `nil`).
  func activate(_ adapter: String?, in tensors: [Tensor]) {
    let target = adapter.flatMap { adapters.contains($0) ? $0 : nil }
    guard target != active else { return }
    let current = tensors.map(\.scalars)
    if let active { parked[active] = current } else { original = current }
    let next = target.flatMap { parked.removeValue(forKey: $0) } ?? original!
    for (tensor, scalars) in zip(tensors, next) { tensor.scalars = scalars }
    if target == nil { original = nil }
    active = target
  }

  /// Drops `adapter`'s copy, restoring the module's own values if it was in use.
  func removeCopy(for adapter: String, in tensors: [Tensor]) {
    if active == adapter { activate(nil, in: tensors) }
    parked[adapter] = nil
    adapters.removeAll { $0 == adapter }
  }

  private func ownValues(_ tensors: [Tensor]) -> [[Float]] {
    original ?? tensors.map(\.scalars)
  }
}

extension Module {
  /// The modules with `modules_to_save` copies, with their dotted names.
  var modulesWithCopies: [(name: String, module: Module, copies: ParameterCopies)] {
    namedModules.compactMap { name, module in
      module.parameterCopies.map { (name, module, $0) }
    }
  }

  /// Gives `adapter` a trainable full copy of the module called `name`, as PEFT's
  /// `modules_to_save` does.
  func addModuleCopy(named name: String, for adapter: String) {
    guard let module = namedModules.first(where: { $0.name == name })?.module else { return }
    let copies = module.parameterCopies ?? ParameterCopies()
    module.parameterCopies = copies
    copies.addCopy(for: adapter, of: module.parameters)
  }
}
