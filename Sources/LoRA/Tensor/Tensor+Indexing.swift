struct MaskedFillKernel: BinaryKernel {
  let value: Float
  func callAsFunction(_ x: Float, _ mask: Float) -> Float { mask != 0 ? value : x }
}

extension Tensor {
  /// The rows (entries along axis 0) at `indices`, stacked: a `[N, C]` table and `k` indices
  /// give `[k, C]`. This is an embedding lookup; the gradient adds back into the rows used.
  public func indexSelect(_ indices: [Int]) -> Tensor {
    guard rank >= 1 else { fatalError("indexSelect: needs at least one dimension, got \(shape)") }
    let rows = shape[0]
    let width = count / Swift.max(rows, 1)
    for index in indices where index < 0 || index >= rows {
      fatalError("indexSelect: index \(index) is out of range for \(rows) rows (shape \(shape))")
    }
    let node = gradNode
    let output = scalars.withUnsafeBufferPointer { source in
      makeScalars(count: indices.count * width) { out in
        for (position, index) in indices.enumerated() {
          (out.baseAddress! + position * width).update(
            from: source.baseAddress! + index * width, count: width)
        }
      }
    }
    let outputShape = [indices.count] + shape.dropFirst()
    return .result(of: "indexSelect", shape: outputShape, scalars: output, inputs: [self]) {
      gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        node?.accumulate { target in
          for (position, index) in indices.enumerated() {
            for j in 0..<width { target[index * width + j] += g[position * width + j] }
          }
        }
      }
    }
  }

  /// The tensor with `value` wherever `mask` (broadcast to this shape) is non-zero, like
  /// `masked_fill`. A causal mask: `scores.maskedFill(Tensor.tril(T) == 0, -.infinity)`
  /// is written here as `scores.maskedFill(1 - Tensor.tril(T), -.infinity)`.
  public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
    let outputShape = broadcastShape(shape, mask.shape, operation: "maskedFill")
    guard outputShape == shape else {
      fatalError("maskedFill: mask of shape \(mask.shape) does not broadcast to \(shape)")
    }
    let node = gradNode
    let filled = broadcasting(MaskedFillKernel(value: value), mask, operation: "maskedFill")
    return .result(of: "maskedFill", filled, inputs: [self]) { gradient in
      // The gradient passes where the input was kept and is zero where it was replaced.
      node?.accumulate(
        gradient.broadcasting(MaskedFillKernel(value: 0), mask, operation: "maskedFill"))
    }
  }

  /// During training, zeroes each element with probability `p` and scales the rest by
  /// 1 / (1 - p), so the expected value is unchanged; returns the input unchanged otherwise.
  public func dropout(
    _ p: Float, training: Bool = true, using generator: inout RandomGenerator
  ) -> Tensor {
    guard p >= 0 && p < 1 else { fatalError("dropout: probability must be in [0, 1), got \(p)") }
    guard training && p > 0 else { return self }
    return self * Tensor(shape: shape, scalars: dropoutMask(count: count, p: p, using: &generator))
  }

  /// Dropout with the library-wide generator.
  public func dropout(_ p: Float, training: Bool = true) -> Tensor {
    dropout(p, training: training, using: &Random.generator)
  }
}

/// Dropout's mask: `count` draws from `generator`, each 0 with probability `p` and
/// 1/(1 − p) otherwise. `Tensor.dropout` and the fused attention both draw through it, so
/// the same seed drops the same elements in either.
func dropoutMask(count: Int, p: Float, using generator: inout RandomGenerator) -> [Float] {
  let kept = 1 / (1 - p)
  return (0..<count).map { _ in generator.nextUniform() < p ? 0 : kept }
}
