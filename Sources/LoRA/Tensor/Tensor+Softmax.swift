import Foundation

extension Tensor {
  /// exp(x) / Σ exp(x) along `axis`, computed stably by subtracting the maximum first.
  public func softmax(axis: Int = -1) -> Tensor {
    alongLastAxis(axis) { $0.softmaxRows(logarithm: false) }
  }

  /// log(softmax(x)) along `axis`, computed as x - max - log Σ exp(x - max).
  public func logSoftmax(axis: Int = -1) -> Tensor {
    alongLastAxis(axis) { $0.softmaxRows(logarithm: true) }
  }

  /// Applies a last-axis operation along `axis` by moving that axis last and back.
  private func alongLastAxis(_ axis: Int, _ operation: (Tensor) -> Tensor) -> Tensor {
    let axis = normalizedAxis(axis, for: "softmax")
    if axis == Swift.max(rank - 1, 0) { return operation(self) }
    return operation(transposed(axis, -1)).transposed(axis, -1)
  }

  /// Softmax or log-softmax of each contiguous row of the last dimension.
  private func softmaxRows(logarithm: Bool) -> Tensor {
    let length = Swift.max(shape.last ?? 1, 1)
    let node = gradNode
    let output = mapRows(scalars, width: length) { _, x, y in
      if logarithm {
        // `y` holds the exponentials first, then the result.
        let logTotal = rowLogSumExp(x, count: length, scratch: y)
        for j in 0..<length { y[j] = x[j] - logTotal }
      } else {
        softmaxRow(x, y, count: length)
      }
    }
    let operation = logarithm ? "logSoftmax" : "softmax"
    return .result(of: operation, shape: shape, scalars: output, inputs: [self]) { gradient in
      node?.accumulate { dx in
        accumulateRows(into: dx, width: length, incoming: gradient.scalars, saved: output) {
          _, dx, g, y in
          if logarithm {
            // dx = g - softmax · Σg
            let total = vectorSum(g, count: length)
            for j in 0..<length { dx[j] += g[j] - fastExp(y[j]) * total }
          } else {
            // dx = y · (g - Σ g·y)
            let dot = vectorDot(g, y, count: length)
            accumulateSoftmaxGradient(dx, g: g, y: y, count: length, dot: dot)
          }
        }
      }
    }
  }
}
