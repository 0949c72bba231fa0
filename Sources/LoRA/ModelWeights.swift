import Foundation

extension Module {
  /// Saves every parameter, under its dotted name, to a safetensors file (atomically).
  public func saveWeights(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
    let tensors = Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.parameter) })
    try Safetensors(tensors: tensors, metadata: metadata).write(to: url)
  }

  /// Loads every parameter from a safetensors file written by `saveWeights(to:)` (or by
  /// PyTorch, where the names agree).
  ///
  /// Everything is checked before anything is copied, so a failed load leaves the model as
  /// it was. With `strict` (the default) a parameter missing from the file, or a tensor the
  /// model does not have, is an error, as in PyTorch's `load_state_dict`.
  public func loadWeights(from url: URL, strict: Bool = true) throws {
    try loadWeights(Safetensors(contentsOf: url).tensors, strict: strict)
  }

  /// Loads parameters from named tensors; see `loadWeights(from:strict:)`.
  public func loadWeights(_ tensors: [String: Tensor], strict: Bool = true) throws {
    let parameters = namedParameters
    let names = Set(parameters.map(\.name))
    if strict {
      let missing = parameters.map(\.name).filter { tensors[$0] == nil }
      let unexpected = tensors.keys.filter { !names.contains($0) }.sorted()
      guard missing.isEmpty && unexpected.isEmpty else {
        throw ModuleError.keyMismatch(missing: missing, unexpected: unexpected)
      }
    }
    for (name, parameter) in parameters {
      if let tensor = tensors[name], tensor.shape != parameter.shape {
        throw ModuleError.shapeMismatch(
          tensor: name, expected: parameter.shape, found: tensor.shape)
      }
    }
    for (name, parameter) in parameters {
      if let tensor = tensors[name] { parameter.scalars = tensor.scalars }
    }
  }
}
