import LoRA

/// The lesson's top-level constants that its cached blocks use, by name: the runner's
/// review of the cells (`cachedBlockReview`) adds a call of `_lessonNamed` after each one's
/// declaration. A block that changes what such a constant holds, without listing it, is
/// refused by the constant's name (`UnlistedChanges`).
enum NamedConstants {
  nonisolated(unsafe) static var all: [(name: String, value: Any)] = []

  /// The name of a constant that is `object`, or holds it as one of its parts.
  static func name(of object: AnyObject) -> String? {
    let target = ObjectIdentifier(object)
    for (name, value) in all {
      // A value of a struct would be boxed into a new object, which holds nothing.
      guard Mirror(reflecting: value).displayStyle == .class else { continue }
      let holder = value as AnyObject
      if ObjectIdentifier(holder) == target { return name }
      if let module = holder as? Module,
        module.namedModules.contains(where: { ObjectIdentifier($0.1) == target })
          || module.parameters.contains(where: { ObjectIdentifier($0) == target })
      {
        return name
      }
    }
    return nil
  }
}

/// Names `value`, a top-level constant of the lesson that a cached block uses, for the check
/// of what the block changed. The runner adds these calls; lessons do not write them.
public func _lessonNamed(_ name: String, _ value: Any) {
  NamedConstants.all.append((name, value))
}
