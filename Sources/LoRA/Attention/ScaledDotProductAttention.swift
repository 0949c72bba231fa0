/// What causal attention reads: separate queries, keys and values, or the heads of one fused
/// projection in place.
public enum AttentionInput {
  /// `[N, T, D]` each: `N` attentions (batch rows times heads) of `T` positions.
  case separate(query: Tensor, key: Tensor, value: Tensor)
  /// A fused projection `[B, T, width]` whose heads sit in the columns that `columns` says
  /// (GPT-2's `c_attn`, or the char GPT's key, query and value layers stacked).
  case packed(Tensor, columns: QKVColumns)
}

extension Tensor {
  /// Causal scaled dot-product attention, as PyTorch's
  /// `F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, scale=scale)`:
  /// `softmax(scale · q·kᵀ)` with query `i` seeing keys `0...i`, dropout `p` on those
  /// weights, times `v`.
  ///
  /// - `.separate(query:key:value:)`, each `[N, T, D]`, gives `[N, T, D]`.
  /// - `.packed(projected, columns:)`, `[B, T, width]`, gives `[B, T, heads · size]`, head
  ///   `h`'s output in columns `h · size ..< (h + 1) · size`: the heads joined, as a
  ///   multi-head attention's output projection reads them.
  ///
  /// The same numbers as the product, the causal softmax, dropout and the product again as
  /// separate operations, to within float32 rounding, with the same dropout draws (one
  /// mask per weight matrix, batch row by batch row and head by head within a row, as
  /// PyTorch's `[B, H, T, T]` weights); the kernel is `Kernels/AttentionKernel.swift`.
  ///
  /// ```swift
  /// let q = Tensor.randn([4, 16, 8]), k = Tensor.randn([4, 16, 8]), v = Tensor.randn([4, 16, 8])
  /// let y = Tensor.scaledDotProductAttention(.separate(query: q, key: k, value: v), scale: 0.35)
  /// ```
  ///
  /// - Parameters:
  ///   - scale: the factor on the scores, usually `1/√D`.
  ///   - p: the dropout probability on the weights; pass 0 outside training.
  public static func scaledDotProductAttention(
    _ input: AttentionInput, scale: Float, dropout p: Float = 0
  ) -> Tensor {
    scaledDotProductAttention(input, scale: scale, dropout: p, cache: nil)
  }

  /// As the public form; with a `cache` (generation, batch of 1, no gradient, no dropout),
  /// the new keys and values are appended to it and the queries attend over every position
  /// it holds.
  static func scaledDotProductAttention(
    _ input: AttentionInput, scale: Float, dropout p: Float, cache: KVCache.Entry?
  ) -> Tensor {
    switch (input, cache) {
    case (.separate(let query, let key, let value), nil):
      return separateAttention(query: query, key: key, value: value, scale: scale, dropout: p)
    case (.packed(let projected, let columns), nil):
      return packedAttention(projected, columns: columns, scale: scale, dropout: p)
    case (.separate(let query, let key, let value), let cache?):
      cache.append(keys: key, values: value)
      return cache.attend(query: query, scale: scale)
    case (.packed(let projected, let columns), let cache?):
      guard projected.rank == 3, projected.shape[0] == 1 else {
        fatalError(
          "attention with a cache: needs a projection [1, T, width], got \(projected.shape)")
      }
      // Batch 1: head h is row h of [H, T, hs].
      let (query, key, value) = columns.heads(of: projected)
      cache.append(keys: key, values: value)
      return cache.attend(query: query, scale: scale).joiningHeads()
    }
  }

  /// `[N, T, D]` attentions, each from its own query, key and value matrices.
  private static func separateAttention(
    query: Tensor, key: Tensor, value: Tensor, scale: Float, dropout p: Float
  ) -> Tensor {
    guard query.rank == 3, key.shape == query.shape, value.shape == query.shape else {
      fatalError(
        "scaledDotProductAttention: query, key and value must all be [N, T, D], got "
          + "\(query.shape), \(key.shape) and \(value.shape)")
    }
    let attention = CausalAttention(
      layout: AttentionLayout(
        separate: query.shape[0], length: query.shape[1], size: query.shape[2]),
      scale: scale, dropout: p)
    let mask = attention.drawMask()
    let (q, k, v, shape) = (query.scalars, key.scalars, value.scalars, query.shape)
    let (output, weights) = attention.forward(q: q, k: k, v: v, mask: mask)
    let nodes = [query.gradNode, key.gradNode, value.gradNode]
    return .result(
      of: "scaledDotProductAttention", shape: shape, scalars: output, inputs: [query, key, value]
    ) { gradient in
      // Every element of the three gradients is written, none read first.
      var (dk, dv): ([Float], [Float]) = ([], [])
      let dq = makeScalars(count: q.count) { dq in
        dk = makeScalars(count: q.count) { dk in
          dv = makeScalars(count: q.count) { dv in
            attention.backward(
              q: q, k: k, v: v, mask: mask, weights: weights, outputGradient: gradient.scalars,
              dq: dq.baseAddress!, dk: dk.baseAddress!, dv: dv.baseAddress!)
          }
        }
      }
      for (node, scalars) in zip(nodes, [dq, dk, dv]) {
        node?.accumulate(Tensor(shape: shape, scalars: scalars))
      }
    }
  }

  /// Every head of every batch row of a fused projection, read in place, in one parallel
  /// loop; the gradient goes to the projection's columns.
  private static func packedAttention(
    _ projected: Tensor, columns: QKVColumns, scale: Float, dropout p: Float
  ) -> Tensor {
    guard projected.rank == 3 else {
      fatalError(
        "scaledDotProductAttention: the projection must be [B, T, width], got \(projected.shape)")
    }
    let (batch, length, width) = (projected.shape[0], projected.shape[1], projected.shape[2])
    if let problem = columns.problem(width: width) {
      fatalError("scaledDotProductAttention: projection \(projected.shape), \(columns): \(problem)")
    }
    let attention = CausalAttention(
      layout: AttentionLayout(batch: batch, length: length, width: width, columns: columns),
      scale: scale, dropout: p)
    let mask = attention.drawMask()
    let x = projected.scalars
    let (output, weights) = attention.forward(q: x, k: x, v: x, mask: mask)
    let node = projected.gradNode
    let shape = [batch, length, columns.heads * columns.size]
    return .result(
      of: "scaledDotProductAttention", shape: shape, scalars: output, inputs: [projected]
    ) { gradient in
      guard let node else { return }
      // Each head's columns are written whole; columns no head reads get zeros.
      let covered = columns.covers(width: width)
      let dx = makeScalars(count: x.count) { dx in
        if !covered { dx.update(repeating: 0) }
        attention.backward(
          q: x, k: x, v: x, mask: mask, weights: weights, outputGradient: gradient.scalars,
          dq: dx.baseAddress!, dk: dx.baseAddress!, dv: dx.baseAddress!)
      }
      node.accumulate(Tensor(shape: projected.shape, scalars: dx))
    }
  }

  /// Heads `[B·H, T, hs]` (batch-major) joined side by side: `[B, T, H·hs]`.
  func joiningHeads(batch: Int = 1) -> Tensor {
    let (heads, length, size) = (shape[0] / batch, shape[1], shape[2])
    return reshaped([batch, heads, length, size]).permuted([0, 2, 1, 3])
      .reshaped([batch, length, heads * size])
  }
}
