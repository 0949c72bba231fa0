extension Tensor {
  /// Layer normalisation over the last dimension, `(x - mean) / √(var + eps) · weight + bias`,
  /// with the biased variance, as `torch.nn.functional.layer_norm` computes it.
  ///
  /// - Parameters:
  ///   - weight: `[C]`, the per-feature scale, or `nil` for 1.
  ///   - bias: `[C]`, the per-feature shift, or `nil` for 0.
  public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    guard let features = shape.last, features > 0 else {
      fatalError("layerNorm: needs a non-empty last dimension, got shape \(shape)")
    }
    for parameter in [weight, bias].compactMap({ $0 }) where parameter.shape != [features] {
      fatalError(
        "layerNorm: input of shape \(shape) needs weight and bias of shape [\(features)], "
          + "got \(parameter.shape)")
    }
    let rows = count / features
    let gamma = weight?.scalars ?? [Float](repeating: 1, count: features)
    let beta = bias?.scalars ?? [Float](repeating: 0, count: features)
    // x̂ and 1/σ of every row, kept for backward.
    var normalized = makeScalars(count: count) { _ in }
    var inverseDeviations = [Float](repeating: 0, count: rows)
    let output = scalars.withUnsafeBufferPointer { x in
      normalized.withUnsafeMutableBufferPointer { xHat in
        inverseDeviations.withUnsafeMutableBufferPointer { inverse in
          makeScalars(count: count) { y in
            gamma.withUnsafeBufferPointer { gamma in
              beta.withUnsafeBufferPointer { beta in
                for row in 0..<rows {
                  let base = row * features
                  let mean = vectorSum(x.baseAddress! + base, count: features) / Float(features)
                  let variance =
                    vectorSumOfSquares(x.baseAddress! + base, count: features, around: mean)
                    / Float(features)
                  let inverseDeviation = 1 / (variance + eps).squareRoot()
                  inverse[row] = inverseDeviation
                  for j in 0..<features {
                    let normalizedValue = (x[base + j] - mean) * inverseDeviation
                    xHat[base + j] = normalizedValue
                    y[base + j] = normalizedValue * gamma[j] + beta[j]
                  }
                }
              }
            }
          }
        }
      }
    }
    let (inputNode, weightNode, biasNode) = (gradNode, weight?.gradNode, bias?.gradNode)
    let inputs = [self] + [weight, bias].compactMap { $0 }
    return .result(of: "layerNorm", shape: shape, scalars: output, inputs: inputs) { gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        normalized.withUnsafeBufferPointer { xHat in
          if let weightNode {
            weightNode.accumulate { dw in
              for row in 0..<rows {
                for j in 0..<features { dw[j] += g[row * features + j] * xHat[row * features + j] }
              }
            }
          }
          if let biasNode {
            biasNode.accumulate { db in
              for row in 0..<rows {
                for j in 0..<features { db[j] += g[row * features + j] }
              }
            }
          }
          guard let inputNode else { return }
          inputNode.accumulate { dx in
            let n = Float(features)
            for row in 0..<rows {
              let base = row * features
              // With ĝ = g · weight: dx = (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) / σ
              var meanG: Float = 0
              var meanGX: Float = 0
              for j in 0..<features {
                let scaled = g[base + j] * gamma[j]
                meanG += scaled
                meanGX += scaled * xHat[base + j]
              }
              meanG /= n
              meanGX /= n
              let inverse = inverseDeviations[row]
              for j in 0..<features {
                let scaled = g[base + j] * gamma[j]
                dx[base + j] += (scaled - meanG - xHat[base + j] * meanGX) * inverse
              }
            }
          }
        }
      }
    }
  }
}
