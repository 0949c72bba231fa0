import Foundation

/// What a load left out, as PyTorch's `load_state_dict` returns it: the model's keys the
/// file lacked, and the file's keys the model does not have.
public struct WeightLoadReport: Equatable, Sendable, CustomStringConvertible {
  /// Parameters and buffers of the model that the file does not hold; they kept their values.
  public var missingKeys: [String]
  /// Tensors in the file that name nothing in the model; they were not used.
  public var unexpectedKeys: [String]
  /// Constant buffers (a causal mask's `tril`) the file does not hold: the model computes
  /// them, as PyTorch does for a buffer registered with `persistent=False`, which
  /// `state_dict()` leaves out and a strict load does not ask for.
  public var absentBuffers: [String]

  /// A report from the key lists.
  public init(missingKeys: [String], unexpectedKeys: [String], absentBuffers: [String] = []) {
    self.missingKeys = missingKeys
    self.unexpectedKeys = unexpectedKeys
    self.absentBuffers = absentBuffers
  }

  /// Whether every key matched (absent constant buffers are no mismatch).
  public var isComplete: Bool { missingKeys.isEmpty && unexpectedKeys.isEmpty }

  /// `missing keys: [...], unexpected keys: [...]`, as PyTorch prints its result, and the
  /// constant buffers that were absent, if any.
  public var description: String {
    "missing keys: \(missingKeys), unexpected keys: \(unexpectedKeys)"
      + (absentBuffers.isEmpty ? "" : ", absent constant buffers (computed): \(absentBuffers)")
  }
}

extension Module {
  /// The module's state dict: every parameter, then every buffer, under its dotted name,
  /// as `state_dict()` gives them.
  public var stateDict: [(name: String, tensor: Tensor)] {
    namedParameters.map { ($0.name, $0.parameter) } + namedBuffers.map { ($0.name, $0.buffer) }
  }

  /// Saves the state dict (parameters and buffers, under their dotted names) to a
  /// safetensors file, atomically, as `safetensors.torch.save_file(model.state_dict())`.
  public func saveWeights(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
    let tensors = Dictionary(uniqueKeysWithValues: stateDict.map { ($0.name, $0.tensor) })
    try Safetensors(tensors: tensors, metadata: metadata).write(to: url)
  }

  /// Loads parameters from a safetensors file written by `saveWeights(to:)` or by PyTorch
  /// (`save_file(model.state_dict(), path)`), like `load_state_dict`.
  ///
  /// Everything is checked before anything is copied, so a failed load leaves the model as
  /// it was. With `strict` (the default) a key the model has but the file lacks, or a tensor
  /// the file has but the model lacks, is an error that lists both kinds; without it, they
  /// are returned. A shape that differs is always an error, and so is a buffer (such as a
  /// causal mask) whose values differ from the model's. A buffer the file lacks is no error:
  /// the model's buffers are constants it computes, as PyTorch's non-persistent buffers are;
  /// the report names it.
  @discardableResult
  public func loadWeights(from url: URL, strict: Bool = true) throws -> WeightLoadReport {
    try loadWeights(Safetensors(contentsOf: url).tensors, strict: strict)
  }

  /// Loads parameters from named tensors; see `loadWeights(from:strict:)`.
  @discardableResult
  public func loadWeights(_ tensors: [String: Tensor], strict: Bool = true) throws
    -> WeightLoadReport
  {
    let parameters = namedParameters
    let buffers = namedBuffers
    let names = Set(parameters.map(\.name) + buffers.map(\.name))
    let report = WeightLoadReport(
      missingKeys: parameters.map(\.name).filter { tensors[$0] == nil },
      unexpectedKeys: tensors.keys.filter { !names.contains($0) }.sorted(),
      absentBuffers: buffers.map(\.name).filter { tensors[$0] == nil })
    if strict && !report.isComplete {
      throw ModuleError.keyMismatch(missing: report.missingKeys, unexpected: report.unexpectedKeys)
    }
    for (name, expected) in parameters.map({ ($0.name, $0.parameter) })
      + buffers.map({ ($0.name, $0.buffer) })
    {
      if let tensor = tensors[name], tensor.shape != expected.shape {
        throw ModuleError.shapeMismatch(tensor: name, expected: expected.shape, found: tensor.shape)
      }
    }
    for (name, buffer) in buffers {
      if let tensor = tensors[name], tensor.scalars != buffer.scalars {
        throw ModuleError.bufferMismatch(name)
      }
    }
    for (name, parameter) in parameters {
      if let tensor = tensors[name] { parameter.scalars = tensor.scalars }
    }
    return report
  }
}
