internal import CKernels
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
      if !logarithm && ElementKernels.native {
        lora_softmax_row(x, y, length, 1)
        return
      }
      var largest = vectorMax(x, count: length)
      // A row that is all -inf (fully masked) has no finite maximum; 0 keeps exp at 0
      // instead of NaN from -inf - -inf.
      if largest == -.infinity { largest = 0 }
      let total = storeShiftedExp(x, y, count: length, scale: 1, shift: largest)
      if logarithm {
        let logTotal = Foundation.log(total) + largest
        for j in 0..<length { y[j] = x[j] - logTotal }
      } else {
        scaleInPlace(y, count: length, by: 1 / total)
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
