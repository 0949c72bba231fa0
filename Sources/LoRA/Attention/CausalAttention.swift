internal import CKernels

extension Tensor {
  /// Causal self-attention of a batch of heads as one operation: for each of the `N`
  /// matrices of `query`, `key` and `value` (`[N, T, D]` each), `softmax(scale · q·kᵀ)` with
  /// query `i` seeing keys `0...i`, dropout `p` on those weights, times `v`; `[N, T, D]`.
  ///
  /// The same as `query.matmul(key.mT).causalSoftmax(scale:).dropout(p).matmul(value)`, with
  /// the same random draws for the dropout, to within float32 rounding, but faster:
  /// - The heads run on every core at once, each head's products single-threaded on its
  ///   core, rather than every small product handed out to all the cores and waited for.
  /// - Queries go in blocks of 64, each block multiplied only by the keys it sees, so the
  ///   masked triangle is neither computed nor multiplied back: 3/8 of the products' work at
  ///   256 positions.
  /// - Backward keeps the weights (and the dropout mask), not the scores, nor a transposed
  ///   copy of the keys, nor the weights after dropout.
  ///
  /// - Parameters:
  ///   - scale: the factor on the scores, usually `1/√D`.
  ///   - p: the dropout probability on the weights; pass 0 outside training.
  public static func causalAttention(
    query: Tensor, key: Tensor, value: Tensor, scale: Float, dropout p: Float = 0
  ) -> Tensor {
    guard query.rank == 3, key.shape == query.shape, value.shape == query.shape else {
      fatalError(
        "causalAttention: query, key and value must all be [N, T, D], got \(query.shape), "
          + "\(key.shape) and \(value.shape)")
    }
    guard scale > 0 else { fatalError("causalAttention: scale must be positive, got \(scale)") }
    guard p >= 0 && p < 1 else {
      fatalError("causalAttention: dropout must be in [0, 1), got \(p)")
    }
    let attention = CausalAttention(
      heads: query.shape[0], length: query.shape[1], size: query.shape[2], scale: scale)
    let mask: [Float]? =
      p > 0 ? dropoutMask(count: attention.weightCount, p: p, using: &Random.generator) : nil
    let (q, k, v, shape) = (query.scalars, key.scalars, value.scalars, query.shape)
    var weights: [Float] = []
    let output = makeScalars(count: query.count) { output in
      weights = makeScalars(count: attention.weightCount) { weights in
        withPointers(q, k, v, mask) { q, k, v, mask in
          attention.forward(
            q: q, k: k, v: v, mask: mask, weights: weights.baseAddress!,
            output: output.baseAddress!)
        }
      }
    }
    let nodes = [query.gradNode, key.gradNode, value.gradNode]
    return .result(
      of: "causalAttention", shape: shape, scalars: output, inputs: [query, key, value]
    ) {
      [weights] gradient in
      // Every element of the three gradients is written, none read first.
      var (dk, dv): ([Float], [Float]) = ([], [])
      let dq = makeScalars(count: q.count) { dq in
        dk = makeScalars(count: q.count) { dk in
          dv = makeScalars(count: q.count) { dv in
            withPointers(q, k, v, mask) { q, k, v, mask in
              weights.withUnsafeBufferPointer { weights in
                gradient.scalars.withUnsafeBufferPointer { dOutput in
                  attention.backward(
                    q: q, k: k, v: v, mask: mask, weights: weights.baseAddress!,
                    outputGradient: dOutput.baseAddress!, dq: dq.baseAddress!,
                    dk: dk.baseAddress!, dv: dv.baseAddress!)
                }
              }
            }
          }
        }
      }
      for (node, scalars) in zip(nodes, [dq, dk, dv]) {
        node?.accumulate(Tensor(shape: shape, scalars: scalars))
      }
    }
  }
}

/// Calls `body` with the base addresses of q, k, v and the mask (nil without one).
private func withPointers<Result>(
  _ q: [Float], _ k: [Float], _ v: [Float], _ mask: [Float]?,
  _ body: (
    UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?
  ) -> Result
) -> Result {
  q.withUnsafeBufferPointer { q in
    k.withUnsafeBufferPointer { k in
      v.withUnsafeBufferPointer { v in
        guard let mask else { return body(q.baseAddress!, k.baseAddress!, v.baseAddress!, nil) }
        return mask.withUnsafeBufferPointer { mask in
          body(q.baseAddress!, k.baseAddress!, v.baseAddress!, mask.baseAddress!)
        }
      }
    }
  }
}

/// The arithmetic of `Tensor.causalAttention` over raw buffers: `heads` matrices of `length`
/// positions and `size` features each, the weights `[heads, length, length]`.
struct CausalAttention {
  let heads: Int
  let length: Int
  let size: Int
  let scale: Float

  /// Queries per block: each block multiplies only by the keys up to its last query. Smaller
  /// blocks skip more of the masked triangle, but make more, smaller products.
  static let blockRows = 64

  var weightCount: Int { heads * length * length }

  /// The blocks of queries, `start..<start + rows`; block `b` sees keys `0..<start + rows`.
  var blocks: [(start: Int, rows: Int)] {
    stride(from: 0, to: length, by: Self.blockRows).map { start in
      (start, Swift.min(Self.blockRows, length - start))
    }
  }

  /// Weights (`[heads, length, length]`, zero above the diagonal) and output.
  func forward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    mask: UnsafePointer<Float>?, weights: UnsafeMutablePointer<Float>,
    output: UnsafeMutablePointer<Float>
  ) {
    eachHead { head, scratch in
      let (matrix, square) = (head * length * size, head * length * length)
      let (q, k, v) = (q + matrix, k + matrix, v + matrix)
      let (p, o) = (weights + square, output + matrix)
      for (start, rows) in blocks {
        let visible = start + rows
        sgemm(
          transposeA: false, transposeB: true, m: rows, n: visible, k: size, a: q + start * size,
          lda: size, b: k, ldb: size, beta: 0, c: p + start * length, ldc: length)
        for row in start..<visible {
          let y = p + row * length
          causalSoftmaxRow(y, y, visible: row + 1, width: length, scale: scale)
        }
        let attended = dropped(p, mask.map { $0 + square }, start, rows, into: scratch)
        sgemm(
          transposeA: false, transposeB: false, m: rows, n: size, k: visible, a: attended,
          lda: length, b: v, ldb: size, beta: 0, c: o + start * size, ldc: size)
      }
    }
    countProducts(2)
  }

  /// The gradients of q, k and v (each overwritten) from the output's.
  func backward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    mask: UnsafePointer<Float>?, weights: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
    dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
  ) {
    let blocks = blocks
    eachHead(scratchBlocks: 2) { head, scratch in
      let (matrix, square) = (head * length * size, head * length * length)
      let (q, k, v, dOutput) = (q + matrix, k + matrix, v + matrix, outputGradient + matrix)
      let (dq, dk, dv) = (dq + matrix, dk + matrix, dv + matrix)
      let (p, mask) = (weights + square, mask.map { $0 + square })
      let dScores = scratch + Self.blockRows * length
      // The last block sees every key: going backwards, its products write all of dk and
      // dv, and the earlier blocks add to them.
      for (start, rows) in blocks.reversed() {
        let visible = start + rows
        let beta: Float = visible == length ? 0 : 1
        let attended = dropped(p, mask, start, rows, into: scratch)
        sgemm(
          transposeA: true, transposeB: false, m: visible, n: size, k: rows, a: attended,
          lda: length, b: dOutput + start * size, ldb: size, beta: beta, c: dv, ldc: size)
        sgemm(
          transposeA: false, transposeB: true, m: rows, n: visible, k: size,
          a: dOutput + start * size, lda: size, b: v, ldb: size, beta: 0, c: dScores,
          ldc: length)
        for row in start..<visible {
          let (g, y) = (dScores + (row - start) * length, p + row * length)
          if let mask { multiplyInPlace(g, by: mask + row * length, count: row + 1) }
          let dot = vectorDot(g, y, count: row + 1)
          softmaxGradientInPlace(g, y: y, count: row + 1, dot: dot, scale: scale)
          (g + row + 1).update(repeating: 0, count: visible - row - 1)
        }
        sgemm(
          transposeA: false, transposeB: false, m: rows, n: size, k: visible, a: dScores,
          lda: length, b: k, ldb: size, beta: 0, c: dq + start * size, ldc: size)
        sgemm(
          transposeA: true, transposeB: false, m: visible, n: size, k: rows, a: dScores,
          lda: length, b: q + start * size, ldb: size, beta: beta, c: dk, ldc: size)
      }
    }
    countProducts(4)
  }

  /// The weights of rows `start..<start + rows` after dropout: `p` itself without a mask,
  /// else `p · mask` in `scratch` (same row stride), over the keys those rows see.
  private func dropped(
    _ p: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ start: Int, _ rows: Int,
    into scratch: UnsafeMutablePointer<Float>
  ) -> UnsafePointer<Float> {
    guard let mask else { return p + start * length }
    let visible = start + rows
    for row in 0..<rows {
      let offset = (start + row) * length
      let target = scratch + row * length
      target.update(from: p + offset, count: visible)
      multiplyInPlace(target, by: mask + offset, count: visible)
    }
    return UnsafePointer(scratch)
  }

  /// Runs `body` for every head, the heads split between the cores (each product on the
  /// core of its head: `sgemm` runs on its caller's thread, see `BLASThreads`), with
  /// `scratchBlocks` blocks of `blockRows × length` floats of scratch per core.
  private func eachHead(
    scratchBlocks: Int = 1, _ body: (_ head: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void
  ) {
    parallelChunks(heads, minimumPerChunk: 1) { range in
      let scratch = UnsafeMutablePointer<Float>.allocate(
        capacity: scratchBlocks * Self.blockRows * length)
      defer { scratch.deallocate() }
      for head in range { body(head, scratch) }
    }
  }

  /// Counts `products` products per block and head on the calling thread (the products
  /// themselves ran on the cores' threads), as `gemm` would have.
  private func countProducts(_ products: Int) {
    for (start, rows) in blocks {
      for _ in 0..<products { lora_count_product(heads * rows, start + rows, size) }
    }
  }
}
