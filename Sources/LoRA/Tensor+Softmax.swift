import Foundation

extension Tensor {
  /// exp(x) / Σ exp(x) along `axis`, computed stably by subtracting the maximum first.
  public func softmax(axis: Int = -1) -> Tensor {
    normalizedExponential(axis: axis, logarithm: false)
  }

  /// log(softmax(x)) along `axis`, computed as x - max - log Σ exp(x - max).
  public func logSoftmax(axis: Int = -1) -> Tensor {
    normalizedExponential(axis: axis, logarithm: true)
  }

  private func normalizedExponential(axis: Int, logarithm: Bool) -> Tensor {
    let operation = logarithm ? "logSoftmax" : "softmax"
    let axis = normalizedAxis(axis, for: operation)
    let (outer, length, inner) = blocks(around: axis)
    let input = self
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: count) { y in
        for o in 0..<outer {
          for i in 0..<inner {
            let base = o * length * inner + i
            var largest = -Float.infinity
            for j in 0..<length { largest = Swift.max(largest, x[base + j * inner]) }
            // A row that is all -inf (fully masked) has no finite maximum; use 0 so that
            // exp gives 0s rather than NaNs from -inf - -inf.
            if largest == -.infinity { largest = 0 }
            var total: Float = 0
            for j in 0..<length {
              let e = Foundation.exp(x[base + j * inner] - largest)
              y[base + j * inner] = e
              total += e
            }
            if logarithm {
              let logTotal = Foundation.log(total) + largest
              for j in 0..<length { y[base + j * inner] = x[base + j * inner] - logTotal }
            } else {
              let scale = 1 / total
              for j in 0..<length { y[base + j * inner] *= scale }
            }
          }
        }
      }
    }
    return .result(of: operation, shape: shape, scalars: output, inputs: [input]) { gradient in
      output.withUnsafeBufferPointer { y in
        gradient.scalars.withUnsafeBufferPointer { g in
          input.accumulateGrad { dx in
            for o in 0..<outer {
              for i in 0..<inner {
                let base = o * length * inner + i
                if logarithm {
                  // dx = g - softmax · Σg
                  var total: Float = 0
                  for j in 0..<length { total += g[base + j * inner] }
                  for j in 0..<length {
                    let index = base + j * inner
                    dx[index] += g[index] - Foundation.exp(y[index]) * total
                  }
                } else {
                  // dx = y · (g - Σ g·y)
                  var dot: Float = 0
                  for j in 0..<length { dot += g[base + j * inner] * y[base + j * inner] }
                  for j in 0..<length {
                    let index = base + j * inner
                    dx[index] += y[index] * (g[index] - dot)
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
