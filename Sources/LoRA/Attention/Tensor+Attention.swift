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
    let rows = count / keys
    let node = gradNode
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: count) { y in
        // Rows are independent: split across the cores, about 16,000 scores per chunk.
        parallelChunks(rows, minimumPerChunk: Swift.max(1, (1 << 14) / keys)) { chunk in
          for row in chunk {
            let (input, output) = (x.baseAddress! + row * keys, y.baseAddress! + row * keys)
            let visible = row % queries + offset + 1
            let largest = vectorMax(input, count: visible)
            let total = storeShiftedExp(
              input, output, count: visible, scale: scale, shift: largest)
            let inverse = 1 / total
            for j in 0..<visible { output[j] *= inverse }
            for j in visible..<keys { output[j] = 0 }
          }
        }
      }
    }
    return .result(of: "causalSoftmax", shape: shape, scalars: output, inputs: [self]) {
      gradient in
      output.withUnsafeBufferPointer { y in
        gradient.scalars.withUnsafeBufferPointer { g in
          node?.accumulate { dx in
            // dx = scale · y · (g - Σ g·y); masked entries have y = 0 and get nothing.
            parallelChunks(rows, minimumPerChunk: Swift.max(1, (1 << 14) / keys)) { chunk in
              for row in chunk {
                let base = row * keys
                let visible = row % queries + offset + 1
                let dot = vectorDot(g.baseAddress! + base, y.baseAddress! + base, count: visible)
                for j in base..<(base + visible) { dx[j] += scale * y[j] * (g[j] - dot) }
              }
            }
          }
        }
      }
    }
  }
}
