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
      // Every row of `self` times one matrix, as a single BLAS call.
      let rows = elementCount(shape.dropLast())
      return .product(
        self, other, MatrixProduct(m: rows, n: n, k: k), shape: Array(shape.dropLast()) + [n],
        name: "matmul")
    }
    let batchA = Array(shape.dropLast(2))
    let batchB = Array(other.shape.dropLast(2))
    let batch = broadcastShape(batchA, batchB, operation: "matmul (batch dimensions)")
    let left = batchA == batch ? self : expanded(to: batch + [m, k])
    let right = batchB == batch ? other : other.expanded(to: batch + [k, n])
    return .product(
      left, right, MatrixProduct(batch: elementCount(batch), m: m, n: n, k: k),
      shape: batch + [m, n], name: "matmul")
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
    return .product(
      self, weight,
      MatrixProduct(
        m: elementCount(shape.dropLast()), n: outFeatures, k: inFeatures, transposeRight: true),
      bias: bias, shape: Array(shape.dropLast()) + [outFeatures], name: "linear")
  }

  /// `left · right` (+ `bias` on every row) as `product` describes it, with its backward
  /// pass: the one autograd node of `matmul` and `linear`.
  private static func product(
    _ left: Tensor, _ right: Tensor, _ product: MatrixProduct, bias: Tensor? = nil,
    shape: [Int], name: String
  ) -> Tensor {
    let (leftNode, rightNode, biasNode) = (left.gradNode, right.gradNode, bias?.gradNode)
    // dLeft needs right and dRight needs left: keep each only when the other's gradient is
    // wanted.
    let savedLeft = rightNode == nil ? [] : left.scalars
    let savedRight = leftNode == nil ? [] : right.scalars
    let output = left.scalars.withUnsafeBufferPointer { a in
      right.scalars.withUnsafeBufferPointer { b in
        makeScalars(count: product.batch * product.m * product.n) { c in
          if let bias {
            bias.scalars.withUnsafeBufferPointer { bias in
              for row in 0..<product.batch * product.m {
                (c.baseAddress! + row * product.n).update(from: bias.baseAddress!, count: product.n)
              }
            }
          }
          product.forward(a.baseAddress!, b.baseAddress!, into: c.baseAddress!, adding: bias != nil)
        }
      }
    }
    let inputs = [left, right] + (bias.map { [$0] } ?? [])
    return .result(of: name, shape: shape, scalars: output, inputs: inputs) { gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        if let leftNode {
          savedRight.withUnsafeBufferPointer { b in
            leftNode.accumulateOrWrite { gradient, fresh in
              product.leftGradient(
                g.baseAddress!, b.baseAddress!, into: gradient.baseAddress!, adding: !fresh)
            }
          }
        }
        if let rightNode {
          savedLeft.withUnsafeBufferPointer { a in
            rightNode.accumulateOrWrite { gradient, fresh in
              product.rightGradient(
                g.baseAddress!, a.baseAddress!, into: gradient.baseAddress!, adding: !fresh)
            }
          }
        }
        if let biasNode {
          biasNode.accumulate { gradient in
            for row in 0..<product.batch * product.m {
              addAssign(gradient.baseAddress!, g.baseAddress! + row * product.n, count: product.n)
            }
          }
        }
      }
    }
  }
}

/// `C = A · op(B)` over `batch` matrices laid end to end, `A` `[m, k]`, `B` `[k, n]` (or
/// `[n, k]`, used transposed, as `linear` holds its weight), `C` `[m, n]`; with the BLAS
/// calls of its two gradients. With one matrix on the right (`batch` 1), any number of
/// rows of `A` share it.
struct MatrixProduct {
  var batch = 1
  var m: Int
  var n: Int
  var k: Int
  /// Whether `B` is stored `[n, k]` and used as its transpose.
  var transposeRight = false

  /// `C (+)= A · op(B)`.
  func forward(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    adding: Bool
  ) {
    for i in 0..<batch {
      gemm(
        transposeA: false, transposeB: transposeRight, m: m, n: n, k: k,
        a: a + i * m * k, lda: k, b: b + i * k * n, ldb: transposeRight ? k : n,
        beta: adding ? 1 : 0, c: c + i * m * n, ldc: n)
    }
  }

  /// `dA (+)= dC · op(B)ᵀ`: `dC · Bᵀ`, or `dC · B` for a transposed `B`.
  func leftGradient(
    _ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into gradient: UnsafeMutablePointer<Float>,
    adding: Bool
  ) {
    for i in 0..<batch {
      gemm(
        transposeA: false, transposeB: !transposeRight, m: m, n: k, k: n,
        a: g + i * m * n, lda: n, b: b + i * k * n, ldb: transposeRight ? k : n,
        beta: adding ? 1 : 0, c: gradient + i * m * k, ldc: k)
    }
  }

  /// `dB (+)= Aᵀ · dC`, or `dCᵀ · A` for a transposed `B`.
  func rightGradient(
    _ g: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
    into gradient: UnsafeMutablePointer<Float>, adding: Bool
  ) {
    // One product, `Xᵀ · Y`: X = A and Y = dC, or X = dC and Y = A for a transposed B.
    let (rows, columns) = transposeRight ? (n, k) : (k, n)
    for i in 0..<batch {
      let (left, right) = (a + i * m * k, g + i * m * n)
      gemm(
        transposeA: true, transposeB: false, m: rows, n: columns, k: m,
        a: transposeRight ? right : left, lda: rows,
        b: transposeRight ? left : right, ldb: columns,
        beta: adding ? 1 : 0, c: gradient + i * k * n, ldc: columns)
    }
  }
}
