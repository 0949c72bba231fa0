/// The base class of layers and models, in the shape of `torch.nn.Module`.
///
/// A subclass declares its parameters as stored `Tensor` properties and its submodules as
/// stored `Module` properties (or arrays of modules); they are found by reflection, so
/// nothing needs registering. Names follow PyTorch's dotted paths, with array elements
/// numbered: `blocks.0.sa.heads.1.query.weight`. A submodule declared `@Child var` can be
/// replaced (`applyLoRA` puts a `LoRALinear` in its place) and can name its checkpoint key,
/// `@Child(key: "lm_head") var lmHead: Linear`, so that files from PyTorch load as they are.
///
/// Besides parameters, a module may have *buffers*, as `register_buffer` gives in PyTorch:
/// tensors that belong in its state dict but never train (`namedOwnBuffers`).
///
/// ```swift
/// final class MLP: Module {
///   @Child var fc1 = Linear(4, 8)
///   @Child var fc2 = Linear(8, 1)
///   override func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
/// }
/// ```
open class Module {
  /// Whether the module is in training mode (dropout active); see `train(_:)` and `eval()`.
  public private(set) var isTraining = true
  /// Per-adapter copies of this module's parameters, when an adapter lists it in
  /// `modules_to_save`.
  var parameterCopies: ParameterCopies?

  /// Creates a module in training mode.
  public init() {
    LiveObjects.register(self)
  }

  /// The module's forward pass on one tensor. Subclasses that take a tensor override it.
  open func callAsFunction(_ input: Tensor) -> Tensor {
    fatalError("\(type(of: self)) does not define callAsFunction(_: Tensor)")
  }

  /// The direct submodules with their names, in declaration order.
  open var namedChildren: [(name: String, module: Module)] {
    var children: [(String, Module)] = []
    forEachStoredProperty { label, value in
      if let module = value as? Module {
        children.append((label, module))
      } else if let slot = value as? any ModuleSlot {
        children.append((slot.key ?? label, slot.module))
      } else if let modules = value as? [Module] {
        for (index, module) in modules.enumerated() {
          children.append(("\(label).\(index)", module))
        }
      }
    }
    return children
  }

  /// Every module in the tree, this one first (named `""`), depth first, with dotted names.
  public var namedModules: [(name: String, module: Module)] {
    var result: [(String, Module)] = [("", self)]
    for (name, child) in namedChildren {
      for (childName, module) in child.namedModules {
        result.append((childName.isEmpty ? name : "\(name).\(childName)", module))
      }
    }
    return result
  }

  /// This module's own parameters (not its children's), named; by default its stored
  /// `Tensor` properties in declaration order.
  open var namedOwnParameters: [(name: String, parameter: Tensor)] {
    var result: [(String, Tensor)] = []
    forEachStoredProperty { label, value in
      if let tensor = value as? Tensor { result.append((label, tensor)) }
    }
    return result
  }

  /// Every parameter in the tree with its dotted name, like `named_parameters()`.
  /// A tensor shared by two modules is listed once, under its first name.
  public var namedParameters: [(name: String, parameter: Tensor)] {
    var seen = Set<ObjectIdentifier>()
    var result: [(String, Tensor)] = []
    for (moduleName, module) in namedModules {
      for (label, tensor) in module.namedOwnParameters
      where seen.insert(ObjectIdentifier(tensor)).inserted {
        result.append((moduleName.isEmpty ? label : "\(moduleName).\(label)", tensor))
      }
    }
    return result
  }

  /// Puts `replacement` in place of the direct child called `name` (as `namedChildren`
  /// names it). The child must be declared `@Child var`, and `replacement` must be of its
  /// declared type (a `LoRALinear` for a `Linear`, say).
  open func replaceChild(named name: String, with replacement: Module) throws {
    var found: Any?
    forEachStoredProperty { label, value in
      if (value as? any ModuleSlot)?.key ?? label == name { found = value }
    }
    guard let found else {
      throw ModuleError.noSuchChild(name, in: String(describing: type(of: self)))
    }
    guard let slot = found as? any ModuleSlot else {
      throw ModuleError.notReplaceable(name, in: String(describing: type(of: self)))
    }
    try slot.replace(with: replacement, named: name)
  }

  /// This module's own buffers: tensors saved with its parameters that never train, such
  /// as the causal mask PyTorch's attention heads register. None by default.
  ///
  /// A buffer here is derived from the module's configuration, so loading checks that a
  /// file holds the same values rather than copying them.
  open var namedOwnBuffers: [(name: String, buffer: Tensor)] { [] }

  /// Every buffer in the tree with its dotted name, like `named_buffers()`.
  public var namedBuffers: [(name: String, buffer: Tensor)] {
    namedModules.flatMap { moduleName, module in
      module.namedOwnBuffers.map { label, tensor in
        (moduleName.isEmpty ? label : "\(moduleName).\(label)", tensor)
      }
    }
  }

  /// Every parameter in the tree.
  public var parameters: [Tensor] { namedParameters.map(\.parameter) }

  /// The parameters that require gradients: the ones an optimizer should update.
  public var trainableParameters: [Tensor] { parameters.filter(\.requiresGrad) }

  /// Sets training mode on this module and every submodule.
  public func train(_ mode: Bool = true) {
    for (_, module) in namedModules { module.isTraining = mode }
  }

  /// Sets this module's own training flag, not its children's.
  func setTraining(_ mode: Bool) { isTraining = mode }

  /// Sets evaluation mode (dropout off), like `model.eval()`.
  public func eval() {
    train(false)
  }

  /// Freezes every parameter: none requires gradients any more.
  public func freeze() {
    for parameter in parameters { parameter.requiresGrad = false }
  }

  /// Makes every parameter trainable again.
  public func unfreeze() {
    for parameter in parameters { parameter.requiresGrad = true }
  }

  /// Clears the gradient of every parameter.
  public func zeroGrad() {
    for parameter in parameters { parameter.grad = nil }
  }

  /// Calls `body` for each stored property of this object, its superclasses' first,
  /// with the leading underscore of property-wrapper storage removed from the label.
  func forEachStoredProperty(_ body: (String, Any) -> Void) {
    var mirrors: [Mirror] = []
    var mirror: Mirror? = Mirror(reflecting: self)
    while let current = mirror {
      mirrors.append(current)
      mirror = current.superclassMirror
    }
    for mirror in mirrors.reversed() {
      for child in mirror.children {
        guard var label = child.label else { continue }
        if label.hasPrefix("_") { label.removeFirst() }
        body(label, child.value)
      }
    }
  }
}
