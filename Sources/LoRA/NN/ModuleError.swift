/// What can go wrong when changing a module tree or loading weights into it.
public enum ModuleError: Error, Equatable, CustomStringConvertible {
  /// A module has no child of that name.
  case noSuchChild(String, in: String)
  /// The child is stored in a way that cannot be replaced (a `let` rather than `@Child var`).
  case notReplaceable(String, in: String)
  /// The replacement is not of the child's declared type.
  case typeMismatch(String, expected: String, got: String)
  /// LoRA targets that match no module; lists the modules that could be targeted.
  case noMatchingModules(targets: [String], available: [String])
  /// An adapter config's entries (exclusions, layer indices, pattern keys or a regular
  /// expression) that select no module; lists the modules there are.
  case selectorMatchesNothing(field: String, entries: [String], available: [String])
  /// A target matched a module that LoRA cannot wrap.
  case unsupportedTarget(String, type: String)
  /// A model has no adapter of that name.
  case noSuchAdapter(String, available: [String])
  /// An adapter of that name already exists.
  case duplicateAdapter(String)
  /// A tensor in a file has another shape than the parameter it should fill.
  case shapeMismatch(tensor: String, expected: [Int], found: [Int])
  /// A buffer in a file whose values are not the ones the model derives from its
  /// configuration (a causal mask that is not lower-triangular, say).
  case bufferMismatch(String)
  /// Parameters the model has but the file lacks, and tensors the file has but the model lacks.
  case keyMismatch(missing: [String], unexpected: [String])

  /// A message naming what went wrong and where.
  public var description: String {
    switch self {
    case .noSuchChild(let name, let type):
      return "\(type) has no submodule named '\(name)'"
    case .notReplaceable(let name, let type):
      return
        "\(type).\(name) cannot be replaced: declare it '@Child var \(name)' so that LoRA "
        + "can put a LoRALinear in its place"
    case .typeMismatch(let name, let expected, let got):
      return "cannot put a \(got) in '\(name)', which holds a \(expected)"
    case .noMatchingModules(let targets, let available):
      return
        "LoRA targets \(targets) match no module. Modules that can be targeted: "
        + available.joined(separator: ", ")
    case .selectorMatchesNothing(let field, let entries, let available):
      return
        "\(field) \(entries) match no module (PEFT would silently ignore them). Modules: "
        + abbreviated(available)
    case .unsupportedTarget(let name, let type):
      return "LoRA target '\(name)' is a \(type); LoRA wraps Linear layers only"
    case .noSuchAdapter(let name, let available):
      return "no adapter named '\(name)'; the model has: \(available.joined(separator: ", "))"
    case .duplicateAdapter(let name):
      return "an adapter named '\(name)' already exists; delete it first or choose another name"
    case .shapeMismatch(let tensor, let expected, let found):
      return "tensor '\(tensor)' has shape \(found) in the file, but the model expects \(expected)"
    case .bufferMismatch(let name):
      return
        "buffer '\(name)' in the file differs from the model's; it is derived from the "
        + "configuration (a causal mask), so the file was made for another model"
    case .keyMismatch(let missing, let unexpected):
      var parts: [String] = []
      if !missing.isEmpty {
        parts.append("missing from the file: " + missing.joined(separator: ", "))
      }
      if !unexpected.isEmpty {
        parts.append("not in the model: " + unexpected.joined(separator: ", "))
      }
      return "weights do not match the model; " + parts.joined(separator: "; ")
    }
  }
}

/// Up to twelve names, then how many more there are, so that a message stays readable.
func abbreviated(_ names: [String]) -> String {
  guard names.count > 12 else { return names.joined(separator: ", ") }
  return names.prefix(12).joined(separator: ", ") + ", … (\(names.count - 12) more)"
}
