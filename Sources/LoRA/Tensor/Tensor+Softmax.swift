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
    let rows = count / length
    let node = gradNode
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: count) { y in
        for row in 0..<rows {
          let xRow = UnsafeBufferPointer(rebasing: x[(row * length)..<((row + 1) * length)])
          let yRow = UnsafeMutableBufferPointer(rebasing: y[(row * length)..<((row + 1) * length)])
          var largest = vectorMax(xRow.baseAddress!, count: length)
          // A row that is all -inf (fully masked) has no finite maximum; 0 keeps exp at 0
          // instead of NaN from -inf - -inf.
          if largest == -.infinity { largest = 0 }
          let total = storeShiftedExp(
            xRow.baseAddress!, yRow.baseAddress!, count: length, scale: 1, shift: largest)
          if logarithm {
            let logTotal = Foundation.log(total) + largest
            for j in 0..<length { yRow[j] = xRow[j] - logTotal }
          } else {
            let scale = 1 / total
            for j in 0..<length { yRow[j] *= scale }
          }
        }
      }
    }
    let operation = logarithm ? "logSoftmax" : "softmax"
    return .result(of: operation, shape: shape, scalars: output, inputs: [self]) { gradient in
      output.withUnsafeBufferPointer { y in
        gradient.scalars.withUnsafeBufferPointer { g in
          node?.accumulate { dx in
            for row in 0..<rows {
              let start = row * length
              if logarithm {
                // dx = g - softmax · Σg
                let total = vectorSum(g.baseAddress! + start, count: length)
                for j in start..<(start + length) { dx[j] += g[j] - fastExp(y[j]) * total }
              } else {
                // dx = y · (g - Σ g·y)
                let dot = vectorDot(g.baseAddress! + start, y.baseAddress! + start, count: length)
                for j in start..<(start + length) { dx[j] += y[j] * (g[j] - dot) }
              }
            }
          }
        }
      }
    }
  }
}
