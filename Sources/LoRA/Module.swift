/// The base class of layers and models, in the shape of `torch.nn.Module`.
///
/// A subclass declares its parameters as stored `Tensor` properties and its submodules as
/// stored `Module` properties (or arrays of modules); they are found by reflection, so
/// nothing needs registering. Names follow PyTorch's dotted paths, with array elements
/// numbered: `blocks.0.sa.heads.1.query.weight`.
///
/// ```swift
/// final class MLP: Module {
///   let fc1 = Linear(4, 8)
///   let fc2 = Linear(8, 1)
///   override func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
/// }
/// ```
open class Module {
  /// Whether the module is in training mode (dropout active); see `train(_:)` and `eval()`.
  public private(set) var isTraining = true

  /// Creates a module in training mode.
  public init() {}

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

  /// Every parameter in the tree with its dotted name, like `named_parameters()`.
  /// A tensor shared by two modules is listed once, under its first name.
  public var namedParameters: [(name: String, parameter: Tensor)] {
    var seen = Set<ObjectIdentifier>()
    var result: [(String, Tensor)] = []
    for (moduleName, module) in namedModules {
      module.forEachStoredProperty { label, value in
        guard let tensor = value as? Tensor, seen.insert(ObjectIdentifier(tensor)).inserted else {
          return
        }
        result.append((moduleName.isEmpty ? label : "\(moduleName).\(label)", tensor))
      }
    }
    return result
  }

  /// Every parameter in the tree.
  public var parameters: [Tensor] { namedParameters.map(\.parameter) }

  /// The parameters that require gradients: the ones an optimizer should update.
  public var trainableParameters: [Tensor] { parameters.filter(\.requiresGrad) }

  /// Sets training mode on this module and every submodule.
  public func train(_ mode: Bool = true) {
    for (_, module) in namedModules { module.isTraining = mode }
  }

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
  private func forEachStoredProperty(_ body: (String, Any) -> Void) {
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
