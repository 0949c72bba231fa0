internal import CKernels

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

/// Where each of a batch of attentions reads its query, key and value (`length` rows of
/// `size` floats, `inputStride` floats apart) and writes its output (rows `outputStride`
/// apart): separate `[N, T, D]` tensors, or every head of a fused projection in place,
/// item `i` being head `i % heads` of batch row `i / heads` (PyTorch's `[B, H, T, T]`
/// weights, and so the order of their dropout draws).
struct AttentionLayout {
  /// The attentions: batch × heads.
  let items: Int
  let length: Int
  let size: Int
  let inputStride: Int
  let outputStride: Int
  /// Where the heads sit in a row; one head at column 0 for separate tensors.
  let columns: QKVColumns

  /// `[N, T, D]` tensors, one attention per matrix.
  init(separate items: Int, length: Int, size: Int) {
    (self.items, self.length, self.size) = (items, length, size)
    (inputStride, outputStride) = (size, size)
    columns = QKVColumns(heads: 1, size: size, query: 0, key: 0, value: 0, headStride: 0)
  }

  /// The heads of a projection `[batch, length, width]` laid out as `columns`, the output
  /// `[batch, length, heads · size]` with head `h` in columns `h · size ..< (h + 1) · size`.
  init(batch: Int, length: Int, width: Int, columns: QKVColumns) {
    (items, self.length, size) = (batch * columns.heads, length, columns.size)
    (inputStride, outputStride) = (width, columns.heads * columns.size)
    self.columns = columns
  }

  /// The offsets of item `item`'s query, key and value (in the input buffers, or buffer) and
  /// of its output.
  func offsets(of item: Int) -> (query: Int, key: Int, value: Int, output: Int) {
    let (row, head) = (item / columns.heads, item % columns.heads)
    let input = row * length * inputStride + head * columns.headStride
    return (
      input + columns.query, input + columns.key, input + columns.value,
      row * length * outputStride + head * size
    )
  }
}

/// The arithmetic of causal attention over raw buffers laid out as `layout`, the weights
/// `[items, length, length]`: what `Tensor.scaledDotProductAttention` runs without a cache.
///
/// Faster than `q·kᵀ`, a causal softmax, dropout and `·v` as separate operations:
/// - The items run on every core at once, each item's products single-threaded on its
///   core, rather than every small product handed out to all the cores and waited for.
/// - Queries go in blocks of 64, each block multiplied only by the keys it sees, so the
///   masked triangle is neither computed nor multiplied back: 3/8 of the products' work at
///   256 positions. On CPUs with AVX2 and FMA the products are `blockProduct`'s, which
///   also skip the masked tiles of 6 × 16 inside a block: a fifth less work again.
/// - Heads of a fused projection are read in place, with strides: neither the `3 · heads`
///   slices nor the joined output are copied.
/// - Backward keeps the weights (and the dropout mask), not the scores, nor a transposed
///   copy of the keys, nor the weights after dropout.
struct CausalAttention {
  let layout: AttentionLayout
  let scale: Float
  /// The dropout probability on the weights.
  let dropout: Float

  /// An attention with checked arguments: a positive scale, dropout in [0, 1).
  init(layout: AttentionLayout, scale: Float, dropout: Float) {
    guard scale > 0 else {
      fatalError("scaledDotProductAttention: scale must be positive, got \(scale)")
    }
    guard dropout >= 0 && dropout < 1 else {
      fatalError("scaledDotProductAttention: dropout must be in [0, 1), got \(dropout)")
    }
    (self.layout, self.scale, self.dropout) = (layout, scale, dropout)
  }

  /// One dropout mask over every weight, items in order, or nil without dropout.
  func drawMask() -> [Float]? {
    dropout > 0 ? dropoutMask(count: weightCount, p: dropout, using: &Random.generator) : nil
  }

  /// `forward` over arrays (q, k and v may be one): the output, `[items, length, size]` in
  /// the layout's output rows, and the weights backward needs.
  func forward(q: [Float], k: [Float], v: [Float], mask: [Float]?) -> (
    output: [Float], weights: [Float]
  ) {
    var weights: [Float] = []
    let output = makeScalars(count: layout.items * length * size) { output in
      weights = makeScalars(count: weightCount) { weights in
        withPointers(q, k, v, mask) { q, k, v, mask in
          forward(
            q: q, k: k, v: v, mask: mask, weights: weights.baseAddress!,
            output: output.baseAddress!)
        }
      }
    }
    return (output, weights)
  }

  /// `backward` over arrays, into the gradient buffers (which may be one).
  func backward(
    q: [Float], k: [Float], v: [Float], mask: [Float]?, weights: [Float], outputGradient: [Float],
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
    dv: UnsafeMutablePointer<Float>
  ) {
    withPointers(q, k, v, mask) { q, k, v, mask in
      weights.withUnsafeBufferPointer { weights in
        outputGradient.withUnsafeBufferPointer { dOutput in
          backward(
            q: q, k: k, v: v, mask: mask, weights: weights.baseAddress!,
            outputGradient: dOutput.baseAddress!, dq: dq, dk: dk, dv: dv)
        }
      }
    }
  }

  /// Queries per block: each block multiplies only by the keys up to its last query. Smaller
  /// blocks skip more of the masked triangle, but make more, smaller products.
  static let blockRows = 64

  var length: Int { layout.length }
  var size: Int { layout.size }
  var weightCount: Int { layout.items * length * length }

  /// The row stride of a head's keys or values transposed (`[size, length]`): a cache line
  /// more than `length` rounded up to whole lines. A product reads one line from each of
  /// their rows at a time; rows 1 KiB apart (`length` 256) all fall into 4 of the L1
  /// cache's 64 sets and evict each other, which cost q·kᵀ a sixth of its speed (87 against
  /// 105 GFLOP/s on one core of a Zen 4).
  var byColumnStride: Int { (length + 15) / 16 * 16 + 16 }

  /// The blocks of queries, `start..<start + rows`; block `b` sees keys `0..<start + rows`.
  var blocks: [(start: Int, rows: Int)] {
    stride(from: 0, to: length, by: Self.blockRows).map { start in
      (start, Swift.min(Self.blockRows, length - start))
    }
  }

  /// Weights (`[items, length, length]`, zero above the diagonal up to each block's last
  /// key, unwritten after it) and output.
  func forward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    mask: UnsafePointer<Float>?, weights: UnsafeMutablePointer<Float>,
    output: UnsafeMutablePointer<Float>
  ) {
    let (ld, ldOutput) = (layout.inputStride, layout.outputStride)
    eachItem(scratch: Self.blockRows * length + size * byColumnStride) { item, scratch in
      let at = layout.offsets(of: item)
      let square = item * length * length
      let (q, k, v) = (q + at.query, k + at.key, v + at.value)
      let (p, o) = (weights + square, output + at.output)
      var work = 0
      // The keys by column, [size, length], so that the product with them reads rows.
      let keysByColumn = scratch + Self.blockRows * length
      lora_transpose(k, length, size, ld, keysByColumn, byColumnStride)
      for (start, rows) in blocks {
        let visible = start + rows
        work += blockProduct(
          m: rows, n: visible, k: size, a: q + start * ld, aRow: ld, aColumn: 1,
          b: keysByColumn, ldb: byColumnStride, c: p + start * length, ldc: length,
          triangle: .cLower(diagonal: start))
        // Zeros past the diagonal up to the block's last visible key, which the product
        // with v may read; the rest of the row is never read, here or in backward.
        for row in start..<visible {
          let y = p + row * length
          causalSoftmaxRow(y, y, visible: row + 1, width: visible, scale: scale)
        }
        let attended = dropped(p, mask.map { $0 + square }, start, rows, into: scratch)
        work += blockProduct(
          m: rows, n: size, k: visible, a: attended, aRow: length, aColumn: 1, b: v, ldb: ld,
          c: o + start * ldOutput, ldc: ldOutput, triangle: .aLower(diagonal: start))
      }
      return work
    }
  }

  /// The gradients of q, k and v from the output's: each item's rows of them overwritten
  /// (they may be one buffer, as q, k and v may).
  func backward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    mask: UnsafePointer<Float>?, weights: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
    dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
  ) {
    let blocks = blocks
    let (ld, ldOutput) = (layout.inputStride, layout.outputStride)
    eachItem(scratch: 2 * Self.blockRows * length + size * byColumnStride) { item, scratch in
      let at = layout.offsets(of: item)
      let square = item * length * length
      let (q, k, v) = (q + at.query, k + at.key, v + at.value)
      let (dq, dk, dv) = (dq + at.query, dk + at.key, dv + at.value)
      let dOutput = outputGradient + at.output
      let (p, mask) = (weights + square, mask.map { $0 + square })
      let dScores = scratch + Self.blockRows * length
      let valuesByColumn = dScores + Self.blockRows * length
      var work = 0
      lora_transpose(v, length, size, ld, valuesByColumn, byColumnStride)
      // The last block sees every key: going backwards, its products write all of dk and
      // dv, and the earlier blocks add to them.
      for (start, rows) in blocks.reversed() {
        let visible = start + rows
        let accumulate = visible < length
        let attended = dropped(p, mask, start, rows, into: scratch)
        // dv (+)= attendedᵀ · dOutput, attendedᵀ read by columns.
        work += blockProduct(
          m: visible, n: size, k: rows, a: attended, aRow: 1, aColumn: length,
          b: dOutput + start * ldOutput, ldb: ldOutput, c: dv, ldc: ld, accumulate: accumulate,
          triangle: .aUpper(diagonal: -start))
        work += blockProduct(
          m: rows, n: visible, k: size, a: dOutput + start * ldOutput, aRow: ldOutput,
          aColumn: 1, b: valuesByColumn, ldb: byColumnStride, c: dScores, ldc: length,
          triangle: .cLower(diagonal: start))
        for row in start..<visible {
          let (g, y) = (dScores + (row - start) * length, p + row * length)
          if let mask { multiplyInPlace(g, by: mask + row * length, count: row + 1) }
          let dot = vectorDot(g, y, count: row + 1)
          softmaxGradientInPlace(g, y: y, count: row + 1, dot: dot, scale: scale)
          (g + row + 1).update(repeating: 0, count: visible - row - 1)
        }
        work += blockProduct(
          m: rows, n: size, k: visible, a: dScores, aRow: length, aColumn: 1, b: k, ldb: ld,
          c: dq + start * ld, ldc: ld, triangle: .aLower(diagonal: start))
        // dk (+)= dScoresᵀ · q.
        work += blockProduct(
          m: visible, n: size, k: rows, a: dScores, aRow: 1, aColumn: length,
          b: q + start * ld, ldb: ld, c: dk, ldc: ld, accumulate: accumulate,
          triangle: .aUpper(diagonal: -start))
      }
      return work
    }
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

  /// Runs `body` for every item, the items split between the cores (each product on the
  /// core of its item, single-threaded), with `scratch` floats of scratch per core, and
  /// counts the multiply-adds the items return on the calling thread, as `gemm` would have
  /// counted its products.
  private func eachItem(
    scratch count: Int, _ body: (_ item: Int, _ scratch: UnsafeMutablePointer<Float>) -> Int
  ) {
    let work = UnsafeMutableBufferPointer<Int>.allocate(capacity: layout.items)
    defer { work.deallocate() }
    parallelChunks(layout.items, minimumPerChunk: 1) { range in
      let scratch = UnsafeMutablePointer<Float>.allocate(capacity: count)
      defer { scratch.deallocate() }
      for item in range { work[item] = body(item, scratch) }
    }
    lora_count_product(work.reduce(0, +), 1, 1)
  }
}
