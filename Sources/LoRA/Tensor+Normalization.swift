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
      fatalError("layerNorm: input of shape \(shape) needs weight and bias of shape [\(features)], got \(parameter.shape)")
    }
    let rows = count / features
    let gamma = weight?.scalars ?? [Float](repeating: 1, count: features)
    let beta = bias?.scalars ?? [Float](repeating: 0, count: features)
    var normalized = [Float](repeating: 0, count: count)  // x̂, kept for backward
    var inverseDeviations = [Float](repeating: 0, count: rows)
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: count) { y in
        for row in 0..<rows {
          let base = row * features
          var mean: Float = 0
          for j in 0..<features { mean += x[base + j] }
          mean /= Float(features)
          var variance: Float = 0
          for j in 0..<features { variance += (x[base + j] - mean) * (x[base + j] - mean) }
          variance /= Float(features)
          let inverse = 1 / (variance + eps).squareRoot()
          inverseDeviations[row] = inverse
          for j in 0..<features {
            let xHat = (x[base + j] - mean) * inverse
            normalized[base + j] = xHat
            y[base + j] = xHat * gamma[j] + beta[j]
          }
        }
      }
    }
    let input = self
    let inputs = [input] + [weight, bias].compactMap { $0 }
    return .result(of: "layerNorm", shape: shape, scalars: output, inputs: inputs) { gradient in
      let g = gradient.scalars
      if let weight, weight.requiresGrad {
        weight.accumulateGrad { dw in
          for index in 0..<g.count { dw[index % features] += g[index] * normalized[index] }
        }
      }
      if let bias, bias.requiresGrad {
        bias.accumulateGrad { db in
          for index in 0..<g.count { db[index % features] += g[index] }
        }
      }
      guard input.requiresGrad else { return }
      input.accumulateGrad { dx in
        let n = Float(features)
        for row in 0..<rows {
          let base = row * features
          // With ĝ = g · weight: dx = (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) / σ
          var meanG: Float = 0
          var meanGX: Float = 0
          for j in 0..<features {
            let scaled = g[base + j] * gamma[j]
            meanG += scaled
            meanGX += scaled * normalized[base + j]
          }
          meanG /= n
          meanGX /= n
          for j in 0..<features {
            let scaled = g[base + j] * gamma[j]
            dx[base + j] +=
              (scaled - meanG - normalized[base + j] * meanGX) * inverseDeviations[row]
          }
        }
      }
    }
  }
}
