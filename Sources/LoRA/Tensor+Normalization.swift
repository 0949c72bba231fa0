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
                  // Row pointers: indexing them involves no overflow-checked arithmetic, so
                  // the loop vectorises.
                  let (xRow, xHatRow, yRow) = (
                    x.baseAddress! + base, xHat.baseAddress! + base, y.baseAddress! + base
                  )
                  for j in 0..<features {
                    let normalizedValue = (xRow[j] - mean) * inverseDeviation
                    xHatRow[j] = normalizedValue
                    yRow[j] = normalizedValue * gamma[j] + beta[j]
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
                let offset = row * features
                for j in 0..<features {
                  dw[j] += (g.baseAddress! + offset)[j] * (xHat.baseAddress! + offset)[j]
                }
              }
            }
          }
          if let biasNode {
            biasNode.accumulate { db in
              for row in 0..<rows {
                addAssign(db.baseAddress!, g.baseAddress! + row * features, count: features)
              }
            }
          }
          guard let inputNode else { return }
          gamma.withUnsafeBufferPointer { gamma in
            inputNode.accumulate { dx in
              let n = Float(features)
              for row in 0..<rows {
                let offset = row * features
                let (gRow, xHatRow, dxRow) = (
                  g.baseAddress! + offset, xHat.baseAddress! + offset, dx.baseAddress! + offset
                )
                // With ĝ = g · weight: dx = (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) / σ
                let (sumG, sumGX) = scaledSums(gRow, gamma.baseAddress!, xHatRow, count: features)
                let (meanG, meanGX) = (sumG / n, sumGX / n)
                let inverse = inverseDeviations[row]
                for j in 0..<features {
                  dxRow[j] += (gRow[j] * gamma[j] - meanG - xHatRow[j] * meanGX) * inverse
                }
              }
            }
          }
        }
      }
    }
  }
}

/// Σ g·γ and Σ g·γ·x̂ over a row, accumulated in eight lanes.
@inline(__always)
private func scaledSums(
  _ g: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ xHat: UnsafePointer<Float>,
  count: Int
) -> (Float, Float) {
  var (lanesG, lanesGX) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 0))
  let whole = count & ~7
  var j = 0
  while j < whole {
    let scaled =
      UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self)
      * UnsafeRawPointer(gamma + j).loadUnaligned(as: SIMD8<Float>.self)
    lanesG += scaled
    lanesGX += scaled * UnsafeRawPointer(xHat + j).loadUnaligned(as: SIMD8<Float>.self)
    j += 8
  }
  var (sumG, sumGX) = (lanesG.sum(), lanesGX.sum())
  while j < count {
    let scaled = g[j] * gamma[j]
    sumG += scaled
    sumGX += scaled * xHat[j]
    j += 1
  }
  return (sumG, sumGX)
}
