import LoRA

/// What a cached block could change without listing it, fingerprinted on entry, to find
/// what it changed: a hit would restore only what it lists, so anything else would come back
/// stale.
///
/// - The lesson's named constants (`NamedConstants`): a tensor's values and gradient (frozen
///   or not), a module's or optimizer's state, an object's properties, found through the
///   constant's parts.
/// - Every module, optimizer and trainable tensor alive (`LiveObjects`), named when a
///   constant holds it.
///
/// What the block lists, and the modules and parameters inside what it lists, are left out.
struct UnlistedChanges {
  /// A value that was watched, and what it was on entry.
  private struct Watched {
    var name: String?
    var value: Any
    var fingerprint: String
  }
  private var watched: [Watched] = []
  private let listed: Set<ObjectIdentifier>

  init(listed values: [any Restorable]) {
    var listed = Set<ObjectIdentifier>()
    for value in values {
      listed.insert(ObjectIdentifier(value))
      if let module = value as? Module {
        for (_, child) in module.namedModules { listed.insert(ObjectIdentifier(child)) }
        for parameter in module.parameters { listed.insert(ObjectIdentifier(parameter)) }
      }
    }
    self.listed = listed
    // What the constants reach is fingerprinted with them, not again on its own.
    var reached = listed
    for (name, value) in NamedConstants.all {
      let state = Self.state(of: value, skipping: listed)
      reached.formUnion(state.objects)
      watched.append(Watched(name: name, value: value, fingerprint: state.hash.hex))
    }
    let live = LiveObjects.all
    // A module inside another live one, or a parameter of one, is fingerprinted with it.
    var inner = Set<ObjectIdentifier>()
    for case let module as Module in live {
      for (name, child) in module.namedModules where !name.isEmpty {
        inner.insert(ObjectIdentifier(child))
      }
      for parameter in module.parameters { inner.insert(ObjectIdentifier(parameter)) }
    }
    for object in live
    where !reached.contains(ObjectIdentifier(object)) && !inner.contains(ObjectIdentifier(object)) {
      watched.append(
        Watched(
          name: nil, value: object, fingerprint: Self.state(of: object, skipping: listed).hash.hex))
    }
  }

  /// The first watched value the block changed, described for a refusal, and whether it
  /// could be listed (it is `Restorable`); `nil` when it changed none.
  func changed() -> (what: String, canBeListed: Bool)? {
    for entry in watched
    where Self.state(of: entry.value, skipping: listed).hash.hex != entry.fingerprint {
      let what = Self.describe(entry.value)
      let canBeListed = entry.value is any Restorable
      // Unnamed values are the live objects: modules, optimizers, tensors.
      let name = entry.name ?? NamedConstants.name(of: entry.value as AnyObject)
      guard let name else { return (what, canBeListed) }
      return ("`\(name)` (\(what))", canBeListed)
    }
    return nil
  }

  /// What can change inside `value`, outside what the block lists.
  private static func state(of value: Any, skipping listed: Set<ObjectIdentifier>)
    -> ReachableState
  {
    var state = ReachableState(skipping: listed)
    state.add(value)
    return state
  }

  /// `value` in a few words: its kind and size.
  static func describe(_ value: Any) -> String {
    if let module = value as? Module {
      let count = module.parameters.reduce(0) { $0 + $1.count }
      return "a \(type(of: module)) with \(count) parameter values"
    }
    if let optimizer = value as? Optimizer {
      return "an optimizer (\(type(of: optimizer))) over \(optimizer.parameters.count) tensors"
    }
    if let tensor = value as? Tensor {
      let kind = tensor.requiresGrad ? "a trainable tensor" : "a tensor"
      return "\(kind) of shape \(tensor.shape) (its values or its gradient)"
    }
    return "a \(type(of: value))"
  }
}

/// A hash of everything that can change inside a value: the states of the restorable
/// objects it reaches (tensors, modules, optimizers) and the properties of the other objects
/// it reaches, found through its parts (Swift's `Mirror`). The parts of a value outside any
/// object cannot change (a `let` holds them), so only the objects among them count.
struct ReachableState {
  /// Objects not to look into: those a block lists.
  let skipping: Set<ObjectIdentifier>
  private(set) var hash = StateHash()
  /// The objects reached so far.
  private(set) var objects = Set<ObjectIdentifier>()
  /// Parts still to look at: a value with millions of parts is hashed in part.
  private var budget = 100_000

  init(skipping: Set<ObjectIdentifier>) { self.skipping = skipping }

  /// Mixes in what can change inside `value`; `insideObject` when it is an object's
  /// property, where plain values can change too.
  mutating func add(_ value: Any, insideObject: Bool = false) {
    guard budget > 0 else { return }
    budget -= 1
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .class {
      let object = value as AnyObject
      let identifier = ObjectIdentifier(object)
      guard !skipping.contains(identifier), objects.insert(identifier).inserted else { return }
      if let restorable = object as? any Restorable {
        hash.add((try? restorable.savedState().fingerprint) ?? "cannot be saved")
        return
      }
      var level: Mirror? = mirror
      while let current = level {
        for child in current.children { add(child.value, insideObject: true) }
        level = current.superclassMirror
      }
      return
    }
    // A leaf, or a collection of leaves (an array of numbers): it can change only as an
    // object's property.
    let isLeaf = mirror.children.isEmpty
    let isPlainCollection =
      [.collection, .set, .dictionary].contains(mirror.displayStyle)
      && mirror.children.first.map { Self.isPlain($0.value) } ?? true
    if isLeaf || isPlainCollection {
      guard insideObject else { return }
      // Counted, and in full when short enough to write out.
      let count = mirror.children.count
      hash.add("\(count)")
      if count <= 4096 { hash.add(String(reflecting: value)) }
      return
    }
    for child in mirror.children { add(child.value, insideObject: insideObject) }
  }

  /// Whether `value` is a plain value: no parts, and not an object.
  private static func isPlain(_ value: Any) -> Bool {
    let mirror = Mirror(reflecting: value)
    return mirror.children.isEmpty && mirror.displayStyle != .class
  }
}
