/// A submodule declared with its checkpoint key, and replaceable after construction by a
/// module of the same type or a subclass (LoRA injection puts a `LoRALinear` where a
/// `Linear` was), in the spirit of mlx-swift's `@ModuleInfo(key:)`.
///
/// The key is the name the submodule has in `namedModules`, `namedParameters` and
/// checkpoint files, so a Swift property can keep a Swift name while its weights are
/// stored under PyTorch's:
///
/// ```swift
/// final class Model: Module {
///   @Child(key: "lm_head") var lmHead: Linear
///   init() { lmHead = Linear(8, 4) }
/// }
/// // namedParameters: lm_head.weight, lm_head.bias
/// ```
///
/// Without a key, the property's own name is used.
@propertyWrapper
public final class Child<Wrapped: Module> {
  /// The submodule; set once in the owner's initialiser when declared with `key:` only.
  private var storage: Wrapped?
  /// The submodule's name in checkpoints, or `nil` for the property's name.
  public let key: String?

  /// The submodule.
  public var wrappedValue: Wrapped {
    get {
      guard let storage else {
        fatalError("@Child(key: \"\(key ?? "")\") was read before its initialiser set it")
      }
      return storage
    }
    set { storage = newValue }
  }

  /// Holds `wrappedValue` as a replaceable submodule, named after its property.
  public init(wrappedValue: Wrapped) {
    storage = wrappedValue
    key = nil
  }

  /// Holds `wrappedValue` as a replaceable submodule stored under `key`.
  public init(wrappedValue: Wrapped, key: String) {
    storage = wrappedValue
    self.key = key
  }

  /// A submodule stored under `key`, set later in the owner's initialiser
  /// (`lmHead = Linear(...)`), as Swift does for a wrapper declared with arguments.
  public init(key: String) {
    storage = nil
    self.key = key
  }
}

/// A replaceable slot holding a submodule, as `Child` does; found by reflection.
protocol ModuleSlot: AnyObject {
  /// The submodule in the slot.
  var module: Module { get }
  /// The checkpoint key, when it differs from the property's name.
  var key: String? { get }
  /// Puts `replacement` in the slot, if it is of the slot's type.
  func replace(with replacement: Module, named name: String) throws
}

extension Child: ModuleSlot {
  var module: Module { wrappedValue }

  func replace(with replacement: Module, named name: String) throws {
    guard let typed = replacement as? Wrapped else {
      throw ModuleError.typeMismatch(
        name, expected: String(describing: Wrapped.self),
        got: String(describing: type(of: replacement)))
    }
    wrappedValue = typed
  }
}
