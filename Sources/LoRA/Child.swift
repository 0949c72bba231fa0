/// A submodule that can be replaced after construction, by a module of the same type or a
/// subclass; LoRA injection uses this to put a `LoRALinear` where a `Linear` was.
///
/// ```swift
/// final class Head: Module {
///   @Child var query: Linear
///   init(_ embedding: Int, _ headSize: Int) {
///     query = Linear(embedding, headSize, bias: false)
///   }
/// }
/// ```
@propertyWrapper
public final class Child<Wrapped: Module> {
  /// The submodule.
  public var wrappedValue: Wrapped

  /// Holds `wrappedValue` as a replaceable submodule.
  public init(wrappedValue: Wrapped) {
    self.wrappedValue = wrappedValue
  }
}

/// A replaceable slot holding a submodule, as `Child` does; found by reflection.
protocol ModuleSlot: AnyObject {
  /// The submodule in the slot.
  var module: Module { get }
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
