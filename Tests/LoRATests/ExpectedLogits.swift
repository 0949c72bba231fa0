import Foundation

@testable import LoRA

/// An `expected.json` the fixture scripts write beside a model or an adapter: the input
/// tokens and the reference library's logits for them.
struct ExpectedLogits: Codable {
  let tokens: [[Int]]
  let logits: [Float]

  /// The `expected.json` in `folder`.
  static func read(_ folder: URL) throws -> ExpectedLogits {
    try JSONDecoder().decode(
      ExpectedLogits.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
  }
}

/// The model's logits on `tokens`, in evaluation mode.
func evaluationLogits(of model: GPT2, on tokens: [[Int]]) -> [Float] {
  model.eval()
  return withNoGrad { model.forward(tokens).logits.scalars }
}

/// The largest elementwise difference between two arrays of the same length.
func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) values against \(b.count)")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
