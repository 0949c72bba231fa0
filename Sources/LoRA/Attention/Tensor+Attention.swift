extension Tensor {
  /// `softmax(scale · scores)` over the last axis with a causal mask, in one pass: query `i`
  /// sees keys `0...i + (keys - queries)`, so a square `[..., T, T]` is the usual lower
  /// triangle and a single new query sees every cached key.
  ///
  /// The same as `(scores * scale).maskedFill(1 - tril, -.infinity).softmax()`, without
  /// the two intermediate `[..., T, T]` tensors that autograd would otherwise keep.
  public func causalSoftmax(scale: Float) -> Tensor {
    guard scale > 0 else { fatalError("causalSoftmax: scale must be positive, got \(scale)") }
    guard rank >= 2, shape[rank - 1] >= shape[rank - 2] else {
      fatalError(
        "causalSoftmax: needs scores [..., queries, keys] with keys >= queries, got \(shape)")
    }
    let (queries, keys) = (shape[rank - 2], shape[rank - 1])
    let offset = keys - queries
    let node = gradNode
    let output = mapRows(scalars, width: keys) { row, x, y in
      causalSoftmaxRow(x, y, visible: row % queries + offset + 1, width: keys, scale: scale)
    }
    return .result(of: "causalSoftmax", shape: shape, scalars: output, inputs: [self]) {
      gradient in
      node?.accumulate { dx in
        // dx = scale · y · (g - Σ g·y); masked entries have y = 0 and get nothing.
        accumulateRows(into: dx, width: keys, incoming: gradient.scalars, saved: output) {
          row, dx, g, y in
          let visible = row % queries + offset + 1
          let dot = vectorDot(g, y, count: visible)
          accumulateSoftmaxGradient(dx, g: g, y: y, count: visible, dot: dot, scale: scale)
        }
      }
    }
  }
}

/// One row of a causal softmax: `softmax(scale · x)` over its first `visible` entries (the
/// keys its query sees), and 0 over the other `width − visible`. `x` and `y` may be the same.
@inline(__always)
func causalSoftmaxRow(
  _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, visible: Int, width: Int,
  scale: Float
) {
  softmaxRow(x, y, count: visible, scale: scale)
  (y + visible).update(repeating: 0, count: width - visible)
}
