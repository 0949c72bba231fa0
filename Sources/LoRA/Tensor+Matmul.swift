extension Tensor {
  /// The matrix product, batched over leading dimensions, like `torch.matmul`.
  ///
  /// `[M, K]·[K, N]` gives `[M, N]`; `[B, T, C]·[C, D]` gives `[B, T, D]` in one BLAS call;
  /// `[B, H, T, D]·[B, H, D, T]` multiplies matrix by matrix, with leading dimensions
  /// broadcast. A vector operand is treated as a row (left) or column (right) and its
  /// dimension dropped from the result.
  public func matmul(_ other: Tensor) -> Tensor {
    guard rank >= 1 && other.rank >= 1 else {
      fatalError(
        "matmul: both operands need at least one dimension, got \(shape) and \(other.shape)")
    }
    if rank == 1 {
      let product = unsqueezed(0).matmul(other)
      return product.reshaped(Array(product.shape.dropLast(2)) + [product.shape.last!])
    }
    if other.rank == 1 {
      let product = matmul(other.unsqueezed(-1))
      return product.reshaped(Array(product.shape.dropLast()))
    }
    let (m, k) = (shape[rank - 2], shape[rank - 1])
    let (otherK, n) = (other.shape[other.rank - 2], other.shape[other.rank - 1])
    guard k == otherK else {
      fatalError(
        "matmul: shapes \(shape) and \(other.shape) are not aligned: \(k) (last dimension of "
          + "the left) != \(otherK) (second-to-last of the right)")
    }
    if other.rank == 2 {
      return flattenedProduct(other, rows: elementCount(shape.dropLast()), k: k, n: n)
    }
    let batchA = Array(shape.dropLast(2))
    let batchB = Array(other.shape.dropLast(2))
    let batch = broadcastShape(batchA, batchB, operation: "matmul (batch dimensions)")
    let left = batchA == batch ? self : expanded(to: batch + [m, k])
    let right = batchB == batch ? other : other.expanded(to: batch + [k, n])
    return left.batchedProduct(right, batch: batch, m: m, k: k, n: n)
  }

  /// `[..., K]·[K, N]`: every row of `self` times one matrix, as a single BLAS call.
  private func flattenedProduct(_ other: Tensor, rows: Int, k: Int, n: Int) -> Tensor {
    let (leftNode, rightNode) = (gradNode, other.gradNode)
    // dA needs B and dB needs A: keep each only when the other side needs a gradient.
    let savedLeft = rightNode == nil ? [] : scalars
    let savedRight = leftNode == nil ? [] : other.scalars
    let output = scalars.withUnsafeBufferPointer { a in
      other.scalars.withUnsafeBufferPointer { b in
        makeScalars(count: rows * n) { c in
          gemm(
            transposeA: false, transposeB: false, m: rows, n: n, k: k,
            a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n,
            beta: 0, c: c.baseAddress!, ldc: n)
        }
      }
    }
    let outputShape = Array(shape.dropLast()) + [n]
    return .result(of: "matmul", shape: outputShape, scalars: output, inputs: [self, other]) {
      gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        if let leftNode {
          savedRight.withUnsafeBufferPointer { b in
            leftNode.accumulateOrWrite { gradA, fresh in  // dA = dC · Bᵀ
              gemm(
                transposeA: false, transposeB: true, m: rows, n: k, k: n,
                a: g.baseAddress!, lda: n, b: b.baseAddress!, ldb: n,
                beta: fresh ? 0 : 1, c: gradA.baseAddress!, ldc: k)
            }
          }
        }
        if let rightNode {
          savedLeft.withUnsafeBufferPointer { a in
            rightNode.accumulateOrWrite { gradB, fresh in  // dB = Aᵀ · dC
              gemm(
                transposeA: true, transposeB: false, m: k, n: n, k: rows,
                a: a.baseAddress!, lda: k, b: g.baseAddress!, ldb: n,
                beta: fresh ? 0 : 1, c: gradB.baseAddress!, ldc: n)
            }
          }
        }
      }
    }
  }

  /// `[batch..., M, K]·[batch..., K, N]` with equal batch dimensions, matrix by matrix.
  private func batchedProduct(_ other: Tensor, batch: [Int], m: Int, k: Int, n: Int) -> Tensor {
    let (leftNode, rightNode) = (gradNode, other.gradNode)
    let savedLeft = rightNode == nil ? [] : scalars
    let savedRight = leftNode == nil ? [] : other.scalars
    let count = elementCount(batch)
    let output = scalars.withUnsafeBufferPointer { a in
      other.scalars.withUnsafeBufferPointer { b in
        makeScalars(count: count * m * n) { c in
          for i in 0..<count {
            gemm(
              transposeA: false, transposeB: false, m: m, n: n, k: k,
              a: a.baseAddress! + i * m * k, lda: k, b: b.baseAddress! + i * k * n, ldb: n,
              beta: 0, c: c.baseAddress! + i * m * n, ldc: n)
          }
        }
      }
    }
    return .result(
      of: "matmul", shape: batch + [m, n], scalars: output, inputs: [self, other]
    ) { gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        if let leftNode {
          savedRight.withUnsafeBufferPointer { b in
            leftNode.accumulateOrWrite { gradA, fresh in
              for i in 0..<count {
                gemm(
                  transposeA: false, transposeB: true, m: m, n: k, k: n,
                  a: g.baseAddress! + i * m * n, lda: n, b: b.baseAddress! + i * k * n, ldb: n,
                  beta: fresh ? 0 : 1, c: gradA.baseAddress! + i * m * k, ldc: k)
              }
            }
          }
        }
        if let rightNode {
          savedLeft.withUnsafeBufferPointer { a in
            rightNode.accumulateOrWrite { gradB, fresh in
              for i in 0..<count {
                gemm(
                  transposeA: true, transposeB: false, m: k, n: n, k: m,
                  a: a.baseAddress! + i * m * k, lda: k, b: g.baseAddress! + i * m * n, ldb: n,
                  beta: fresh ? 0 : 1, c: gradB.baseAddress! + i * k * n, ldc: n)
              }
            }
          }
        }
      }
    }
  }

  /// `x · weightᵀ + bias` over the last dimension, as `torch.nn.functional.linear` computes
  /// it: one BLAS call for all rows, the bias folded in.
  ///
  /// - Parameters:
  ///   - weight: `[out, in]`.
  ///   - bias: `[out]`, or `nil`.
  public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
    guard weight.rank == 2, rank >= 1, shape[rank - 1] == weight.shape[1] else {
      fatalError(
        "linear: input of shape \(shape) does not fit weight of shape \(weight.shape) "
          + "(the input's last dimension must equal the weight's second)")
    }
    let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
    if let bias, bias.shape != [outFeatures] {
      fatalError("linear: bias of shape \(bias.shape) does not fit weight of shape \(weight.shape)")
    }
    let rows = elementCount(shape.dropLast())
    let (inputNode, weightNode, biasNode) = (gradNode, weight.gradNode, bias?.gradNode)
    // dX needs W and dW needs X: keep each only when the other's gradient is wanted.
    let savedInput = weightNode == nil ? [] : scalars
    let savedWeight = inputNode == nil ? [] : weight.scalars
    let output = scalars.withUnsafeBufferPointer { x in
      weight.scalars.withUnsafeBufferPointer { w in
        makeScalars(count: rows * outFeatures) { y in
          if let bias {
            bias.scalars.withUnsafeBufferPointer { b in
              for row in 0..<rows {
                (y.baseAddress! + row * outFeatures).update(
                  from: b.baseAddress!, count: outFeatures)
              }
            }
          }
          gemm(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: x.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
            beta: bias == nil ? 0 : 1, c: y.baseAddress!, ldc: outFeatures)
        }
      }
    }
    let inputs = [self, weight] + (bias.map { [$0] } ?? [])
    let outputShape = Array(shape.dropLast()) + [outFeatures]
    return .result(of: "linear", shape: outputShape, scalars: output, inputs: inputs) {
      gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        if let inputNode {
          savedWeight.withUnsafeBufferPointer { w in
            inputNode.accumulateOrWrite { gradX, fresh in  // dX = dY · W
              gemm(
                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                a: g.baseAddress!, lda: outFeatures, b: w.baseAddress!, ldb: inFeatures,
                beta: fresh ? 0 : 1, c: gradX.baseAddress!, ldc: inFeatures)
            }
          }
        }
        if let weightNode {
          savedInput.withUnsafeBufferPointer { x in
            weightNode.accumulateOrWrite { gradW, fresh in  // dW = dYᵀ · X
              gemm(
                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                a: g.baseAddress!, lda: outFeatures, b: x.baseAddress!, ldb: inFeatures,
                beta: fresh ? 0 : 1, c: gradW.baseAddress!, ldc: inFeatures)
            }
          }
        }
        if let biasNode {
          biasNode.accumulate { gradB in
            for row in 0..<rows {
              addAssign(gradB.baseAddress!, g.baseAddress! + row * outFeatures, count: outFeatures)
            }
          }
        }
      }
    }
  }
}
