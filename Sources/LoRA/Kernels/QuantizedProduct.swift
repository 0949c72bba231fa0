internal import CKernels

/// A frozen matrix `[out, in]` stored in fewer bits than floats, which the products read a
/// block of rows at a time: `FourBitWeight`, `EightBitWeight`.
protocol QuantizedMatrix: Sendable {
  /// `[out, in]`.
  var shape: [Int] { get }
  /// Writes rows `rows` as floats to `out`; with `portable`, by the loop a CPU without AVX2
  /// runs.
  func dequantize(rows: Range<Int>, into out: UnsafeMutablePointer<Float>, portable: Bool)
  /// `y = W·x` for one input row without writing W as floats, returning true; false when
  /// this matrix has no such path on this CPU.
  func product(row x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) -> Bool
}

extension Tensor {
  /// `x·Wᵀ + b` for a 4-bit weight `W` `[out, in]`, as bitsandbytes' `Linear4bit` computes
  /// it on the CPU: the weight dequantized, then a float product. The weight never exists
  /// as floats all at once: each product dequantizes a few hundred of its rows at a time
  /// into a buffer it reuses, and a single input row (a token in generation) meets the
  /// packed codes directly. Gradients flow to the input and the bias; the weight is frozen.
  public func linear(quantized weight: FourBitWeight, bias: Tensor? = nil) -> Tensor {
    quantizedProduct(weight, bias: bias)
  }

  /// `x·Wᵀ + b` for an 8-bit weight `W` `[out, in]`, dequantized a few hundred rows at a
  /// time, as `linear(quantized:bias:)` does for a 4-bit one.
  public func linear(quantized weight: EightBitWeight, bias: Tensor? = nil) -> Tensor {
    quantizedProduct(weight, bias: bias)
  }

  private func quantizedProduct(_ weight: some QuantizedMatrix, bias: Tensor?) -> Tensor {
    let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
    guard rank >= 1, shape[rank - 1] == inFeatures else {
      fatalError(
        "linear: input of shape \(shape) does not fit the 4-bit weight of shape \(weight.shape) "
          + "(the input's last dimension must equal the weight's second)")
    }
    if let bias, bias.shape != [outFeatures] {
      fatalError("linear: bias of shape \(bias.shape) does not fit weight of shape \(weight.shape)")
    }
    let rows = count / inFeatures
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: rows * outFeatures) { y in
        weight.forward(x.baseAddress!, rows: rows, into: y.baseAddress!)
        if let bias {
          bias.scalars.withUnsafeBufferPointer { bias in
            for row in 0..<rows {
              addAssign(y.baseAddress! + row * outFeatures, bias.baseAddress!, count: outFeatures)
            }
          }
        }
      }
    }
    let (inputNode, biasNode) = (gradNode, bias?.gradNode)
    let inputs = [self] + (bias.map { [$0] } ?? [])
    return .result(
      of: "linear (quantized)", shape: Array(shape.dropLast()) + [outFeatures], scalars: output,
      inputs: inputs
    ) { gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        inputNode?.accumulateOrWrite { dx, fresh in
          weight.inputGradient(g.baseAddress!, rows: rows, into: dx.baseAddress!, adding: !fresh)
        }
        biasNode?.accumulate { dBias in
          for row in 0..<rows {
            addAssign(dBias.baseAddress!, g.baseAddress! + row * outFeatures, count: outFeatures)
          }
        }
      }
    }
  }
}

extension FourBitWeight: QuantizedMatrix {
  /// Runs `body` with the packed codes, the levels and the decoded scales.
  private func withParts<R>(
    _ body: (UnsafePointer<UInt8>, UnsafePointer<Float>, UnsafePointer<Float>) -> R
  ) -> R {
    packedCodes.withUnsafeBufferPointer { codes in
      levels.withUnsafeBufferPointer { levels in
        blockScales.withUnsafeBufferPointer { scales in
          body(codes.baseAddress!, levels.baseAddress!, scales.baseAddress!)
        }
      }
    }
  }

  /// Writes rows `rows` of the weight as floats to `out`; with `portable`, by the plain C
  /// loop that CPUs without AVX2 run, whatever this CPU has.
  func dequantize(rows: Range<Int>, into out: UnsafeMutablePointer<Float>, portable: Bool = false) {
    let columns = shape[1]
    withParts { codes, levels, scales in
      // Each core takes a share of the rows; a run of codes never straddles two writers.
      parallelChunks(rows.count, minimumPerChunk: max(1, (1 << 14) / columns)) { part in
        let first = (rows.lowerBound + part.lowerBound) * columns
        let target = out + part.lowerBound * columns
        if ElementKernels.native && !portable {
          lora_dequantize_4bit(
            codes, levels, scales, blockSize, first, part.count * columns, target)
        } else {
          lora_dequantize_4bit_portable(
            codes, levels, scales, blockSize, first, part.count * columns, target)
        }
      }
    }
  }

  func product(row x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) -> Bool {
    guard ElementKernels.native else { return false }
    let (outFeatures, inFeatures) = (shape[0], shape[1])
    withParts { codes, levels, scales in
      parallelChunks(outFeatures, minimumPerChunk: max(8, (1 << 15) / inFeatures)) { part in
        lora_4bit_matrix_times_vector(
          codes, levels, scales, blockSize, inFeatures, x, y + part.lowerBound,
          part.lowerBound, part.count)
      }
    }
    return true
  }
}

extension QuantizedMatrix {
  /// Rows of the weight dequantized at once: about 1 MB of floats, which stays in the cache
  /// while the product reads it.
  private var rowsPerPiece: Int { max(16, (1 << 18) / shape[1]) }

  /// Runs `body` on each piece of the weight's rows, dequantized into one buffer that every
  /// piece reuses: the rows it holds and the floats `[rows.count, in]`.
  private func forEachPiece(_ body: (Range<Int>, UnsafePointer<Float>) -> Void) {
    let (outFeatures, inFeatures) = (shape[0], shape[1])
    let piece = min(rowsPerPiece, outFeatures)
    var buffer = [Float](repeating: 0, count: piece * inFeatures)
    buffer.withUnsafeMutableBufferPointer { buffer in
      for start in stride(from: 0, to: outFeatures, by: piece) {
        let rows = start..<min(start + piece, outFeatures)
        dequantize(rows: rows, into: buffer.baseAddress!, portable: false)
        body(rows, buffer.baseAddress!)
      }
    }
  }

  /// `y = x · Wᵀ` for `rows` input rows: `x` `[rows, in]`, `y` `[rows, out]`.
  func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
    let (outFeatures, inFeatures) = (shape[0], shape[1])
    if rows == 1 && product(row: x, into: y) { return }
    forEachPiece { piece, weights in
      // y[:, piece] = x · piece's rowsᵀ
      gemm(
        transposeA: false, transposeB: true, m: rows, n: piece.count, k: inFeatures,
        a: x, lda: inFeatures, b: weights, ldb: inFeatures,
        beta: 0, c: y + piece.lowerBound, ldc: outFeatures)
    }
  }

  /// `dx (+)= dy · W` for `rows` rows: `dy` `[rows, out]`, `dx` `[rows, in]`.
  func inputGradient(
    _ g: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, adding: Bool
  ) {
    let (outFeatures, inFeatures) = (shape[0], shape[1])
    forEachPiece { piece, weights in
      // dx += dy[:, piece] · piece's rows
      gemm(
        transposeA: false, transposeB: false, m: rows, n: inFeatures, k: piece.count,
        a: g + piece.lowerBound, lda: outFeatures, b: weights, ldb: inFeatures,
        beta: adding || piece.lowerBound > 0 ? 1 : 0, c: dx, ldc: inFeatures)
    }
  }
}
