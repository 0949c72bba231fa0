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
    let rows = RowNormalization(
      rows: count / features, features: features,
      gamma: weight?.scalars ?? [Float](repeating: 1, count: features),
      beta: bias?.scalars ?? [Float](repeating: 0, count: features), eps: eps)
    // x̂ and 1/σ of every row, kept for backward.
    let (output, normalized, inverseDeviations) = rows.forward(scalars)
    let (inputNode, weightNode, biasNode) = (gradNode, weight?.gradNode, bias?.gradNode)
    let inputs = [self] + [weight, bias].compactMap { $0 }
    return .result(of: "layerNorm", shape: shape, scalars: output, inputs: inputs) { gradient in
      let g = gradient.scalars
      weightNode?.accumulate { rows.addWeightGradient(g, normalized: normalized, into: $0) }
      biasNode?.accumulate { rows.addBiasGradient(g, into: $0) }
      inputNode?.accumulate {
        rows.addInputGradient(
          g, normalized: normalized, inverseDeviations: inverseDeviations, into: $0)
      }
    }
  }
}

/// Layer normalisation of `rows` rows of `features` values each, row by row: the forward
/// pass and the three gradients. Rows are independent, so the forward pass and the input's
/// gradient split them across the cores.
private struct RowNormalization {
  let rows: Int
  let features: Int
  let gamma: [Float]
  let beta: [Float]
  let eps: Float

  /// About 16,000 values per chunk of rows.
  private var rowsPerChunk: Int { max(1, (1 << 14) / features) }

  /// `y = x̂ · γ + β` with `x̂ = (x - mean) / σ`; also x̂ and 1/σ of every row.
  func forward(_ input: [Float]) -> (
    output: [Float], normalized: [Float], inverseDeviations: [Float]
  ) {
    var normalized = makeScalars(count: input.count) { _ in }
    var inverseDeviations = [Float](repeating: 0, count: rows)
    let output = makeScalars(count: input.count) { y in
      input.withUnsafeBufferPointer { x in
        normalized.withUnsafeMutableBufferPointer { xHat in
          inverseDeviations.withUnsafeMutableBufferPointer { inverse in
            parallelChunks(rows, minimumPerChunk: rowsPerChunk) { chunk in
              for row in chunk {
                let offset = row * features
                inverse[row] = normalize(
                  x.baseAddress! + offset, xHat: xHat.baseAddress! + offset,
                  y: y.baseAddress! + offset)
              }
            }
          }
        }
      }
    }
    return (output, normalized, inverseDeviations)
  }

  /// One row: writes x̂ and y, returns 1/σ.
  private func normalize(
    _ x: UnsafePointer<Float>, xHat: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>
  ) -> Float {
    let mean = vectorSum(x, count: features) / Float(features)
    let variance = vectorSumOfSquares(x, count: features, around: mean) / Float(features)
    let inverseDeviation = 1 / (variance + eps).squareRoot()
    gamma.withUnsafeBufferPointer { gamma in
      beta.withUnsafeBufferPointer { beta in
        // Pointers, not arrays: indexing them involves no overflow-checked arithmetic, so
        // the loop vectorises.
        for j in 0..<features {
          xHat[j] = (x[j] - mean) * inverseDeviation
          y[j] = xHat[j] * gamma[j] + beta[j]
        }
      }
    }
    return inverseDeviation
  }

  /// dγ += Σ over rows of g · x̂.
  func addWeightGradient(
    _ g: [Float], normalized: [Float], into dw: UnsafeMutableBufferPointer<Float>
  ) {
    g.withUnsafeBufferPointer { g in
      normalized.withUnsafeBufferPointer { xHat in
        for row in 0..<rows {
          let (gRow, xHatRow) = (
            g.baseAddress! + row * features, xHat.baseAddress! + row * features
          )
          for j in 0..<features { dw[j] += gRow[j] * xHatRow[j] }
        }
      }
    }
  }

  /// dβ += Σ over rows of g.
  func addBiasGradient(_ g: [Float], into db: UnsafeMutableBufferPointer<Float>) {
    g.withUnsafeBufferPointer { g in
      for row in 0..<rows {
        addAssign(db.baseAddress!, g.baseAddress! + row * features, count: features)
      }
    }
  }

  /// dx += (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) / σ, with ĝ = g · γ.
  func addInputGradient(
    _ g: [Float], normalized: [Float], inverseDeviations: [Float],
    into dx: UnsafeMutableBufferPointer<Float>
  ) {
    let n = Float(features)
    g.withUnsafeBufferPointer { g in
      normalized.withUnsafeBufferPointer { xHat in
        gamma.withUnsafeBufferPointer { gamma in
          parallelChunks(rows, minimumPerChunk: rowsPerChunk) { chunk in
            for row in chunk {
              let offset = row * features
              let (gRow, xHatRow, dxRow) = (
                g.baseAddress! + offset, xHat.baseAddress! + offset, dx.baseAddress! + offset
              )
              let (sumG, sumGX) = scaledSums(
                gRow, gamma.baseAddress!, xHatRow, count: features)
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

/// Σ g·γ and Σ g·γ·x̂ over a row, accumulated in eight lanes.
@inline(__always)
private func scaledSums(
  _ g: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ xHat: UnsafePointer<Float>,
  count: Int
) -> (Float, Float) {
  var (lanesG, lanesGX) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 0))
  let rest = forEachGroupOfEight(count) { j in
    let scaled = load8(g + j) * load8(gamma + j)
    lanesG += scaled
    lanesGX += scaled * load8(xHat + j)
  }
  var (sumG, sumGX) = (lanesG.sum(), lanesGX.sum())
  for j in rest..<count {
    let scaled = g[j] * gamma[j]
    sumG += scaled
    sumGX += scaled * xHat[j]
  }
  return (sumG, sumGX)
}
