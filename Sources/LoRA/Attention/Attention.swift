import Foundation

// Causal self-attention, in one place: the char GPT's heads (nanoGPT's `Head` and
// `MultiHeadAttention`), GPT-2's fused `GPT2Attention`, and the key/value cache that
// generation shares. Without a cache they call the fused `Tensor.causalAttention`
// (`CausalAttention.swift`); with one, the cache's own attention over the positions it holds
// (`KVCache.swift`).

/// One head of causal self-attention, with its own `key`, `query` and `value` projections,
/// so that LoRA can target `query` and `value` by name.
///
/// Like the seed's PyTorch head, it has a `tril` buffer, the `[blockSize, blockSize]` causal
/// mask, so that its state dict has the same entries; the mask is applied by
/// `causalAttention`, and the buffer is made only when a checkpoint is saved or checked.
public final class Head: Module {
  /// Projects each position to the key it offers, `[C] -> [headSize]`.
  @Child public var key: Linear
  /// Projects each position to the query it asks with.
  @Child public var query: Linear
  /// Projects each position to the value it passes on.
  @Child public var value: Linear
  let dropout: Dropout
  /// The longest context, the side of the causal mask.
  let blockSize: Int

  /// A head reading `nEmbd` features and producing `headSize`, over at most `blockSize`
  /// positions.
  public init(nEmbd: Int, headSize: Int, blockSize: Int, dropout: Float) {
    self.dropout = Dropout(dropout)
    self.blockSize = blockSize
    key = Linear(nEmbd, headSize, bias: false)
    query = Linear(nEmbd, headSize, bias: false)
    value = Linear(nEmbd, headSize, bias: false)
  }

  /// `tril`: ones on and below the diagonal, as `torch.tril(torch.ones(T, T))`.
  public override var namedOwnBuffers: [(name: String, buffer: Tensor)] {
    var mask = [Float](repeating: 0, count: blockSize * blockSize)
    for row in 0..<blockSize {
      for column in 0...row { mask[row * blockSize + column] = 1 }
    }
    return [("tril", Tensor(shape: [blockSize, blockSize], scalars: mask))]
  }

  /// Attention of every position over itself and the positions before it.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    attend(x, cache: nil)
  }

  /// Attention over `x` [B, T, C], and over the keys and values in `cache` before it.
  func attend(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    attend(key: key(x), query: query(x), value: value(x), cache: cache)
  }

  /// Attention from projections already computed, each [B, T, hs].
  func attend(key k: Tensor, query q: Tensor, value v: Tensor, cache: KVCache.Entry?) -> Tensor {
    let scale = 1 / Float(k.shape[k.rank - 1]).squareRoot()
    if let cache {
      // Batch 1: the cache's one head is the batch's one row.
      cache.append(keys: k, values: v)
      return cache.attend(query: q, scale: scale)  // [1, T, hs]
    }
    if q.rank == 3 {
      return .causalAttention(
        query: q, key: k, value: v, scale: scale, dropout: dropout.isTraining ? dropout.p : 0)
    }
    let weights = q.matmul(k.mT).causalSoftmax(scale: scale)  // [T, T]
    return dropout(weights).matmul(v)  // [T, hs]
  }
}

/// Several heads side by side, then a projection back to the residual stream.
public final class MultiHeadAttention: Module {
  /// The heads, each attending on its own.
  public let heads: [Head]
  /// Mixes the concatenated heads back into the residual stream.
  @Child public var proj: Linear
  let dropout: Dropout

  /// `nHead` heads of `nEmbd / nHead` dimensions.
  public init(nEmbd: Int, nHead: Int, blockSize: Int, dropout: Float) {
    heads = (0..<nHead).map { _ in
      Head(nEmbd: nEmbd, headSize: nEmbd / nHead, blockSize: blockSize, dropout: dropout)
    }
    self.dropout = Dropout(dropout)
    proj = Linear(nEmbd, nEmbd)
  }

  /// The heads' outputs concatenated and projected.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    attend(x, cache: nil)
  }

  func attend(_ x: Tensor, cache: [KVCache.Entry]?) -> Tensor {
    let layers = heads.flatMap { [$0.key, $0.query, $0.value] }
    let size = heads[0].key.outFeatures
    let columns = QKVColumns.headByHead(heads: heads.count, size: size)
    // With many positions, one product for every head's key, query and value beats 3·H
    // narrow ones; a single new token (generation) is cheaper head by head.
    guard x.rank == 3, x.count / x.shape[2] >= 64, let projected = Linear.fused(layers, x) else {
      let outputs = heads.indices.map { heads[$0].attend(x, cache: cache?[$0]) }
      return dropout(proj(Tensor.concatenate(outputs, axis: -1)))
    }
    let joined: Tensor  // [B, T, C]
    if let cache {
      joined = Tensor.concatenate(
        heads.indices.map { index in
          let part = { (first: Int) in
            let start = first + index * columns.headStride
            return projected.slice(axis: -1, start..<(start + size))
          }
          return heads[index].attend(
            key: part(columns.key), query: part(columns.query), value: part(columns.value),
            cache: cache[index])
        }, axis: -1)
    } else {
      // Every head of every window in one loop, read in place from the projection. The
      // heads' dropout draws keep their order from when each head attended on its own.
      let training = heads[0].dropout.isTraining
      joined = Tensor.causalAttention(
        projected: projected, columns: columns, scale: 1 / Float(size).squareRoot(),
        dropout: training ? heads[0].dropout.p : 0, headsOuter: true)
    }
    return dropout(proj(joined))  // [B, T, C]
  }
}

/// GPT-2's causal self-attention, as transformers' `GPT2Attention`: one `Conv1D` projects
/// to queries, keys and values side by side (`c_attn`, the layer seed 001 puts LoRA on),
/// the heads attend, and `c_proj` mixes them back.
public final class GPT2Attention: Module {
  /// `[C] -> [3C]`: query, key and value, in that order.
  @Child(key: "c_attn") public var cAttn: Linear
  /// `[C] -> [C]`.
  @Child(key: "c_proj") public var cProj: Linear
  let attnDropout: Dropout
  let residDropout: Dropout
  let heads: Int
  /// The factor on the scores: 1/√(head size) when `scale_attn_weights`, divided by the
  /// layer's number when `scale_attn_by_inverse_layer_idx`.
  let scale: Float

  init(_ config: GPT2Config, layer: Int) {
    heads = config.nHead
    var scale: Float =
      config.scaleAttnWeights ? 1 / Float(config.nEmbd / config.nHead).squareRoot() : 1
    if config.scaleAttnByInverseLayerIdx { scale /= Float(layer + 1) }
    self.scale = scale
    attnDropout = Dropout(config.attnPdrop)
    residDropout = Dropout(config.residPdrop)
    let cAttn = Conv1D(nf: 3 * config.nEmbd, nx: config.nEmbd)
    let cProj = Conv1D(nf: config.nEmbd, nx: config.nEmbd)
    super.init()
    (self.cAttn, self.cProj) = (cAttn, cProj)
  }

  /// Attention of every position of `x` [B, T, C] over itself and the positions before it.
  public override func callAsFunction(_ x: Tensor) -> Tensor { attend(x, cache: nil) }

  /// Attention over `x`, and over the keys and values of earlier positions in `cache` (all
  /// heads, batch of 1), which the new ones are appended to.
  func attend(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    let (batch, length, width) = (x.shape[0], x.shape[1], x.shape[2])
    let size = width / heads
    let projected = cAttn(x)  // [B, T, 3C]
    guard let cache else {
      // Every head read in place, its output in its columns of [B, T, C].
      let merged = Tensor.causalAttention(
        projected: projected, columns: .grouped(heads: heads, size: size), scale: scale,
        dropout: attnDropout.isTraining ? attnDropout.p : 0)
      return residDropout(cProj(merged))
    }
    /// Part `index` (0 query, 1 key, 2 value) as [B·H, T, head size].
    func split(_ index: Int) -> Tensor {
      projected.slice(axis: -1, (index * width)..<((index + 1) * width))
        .reshaped([batch, length, heads, size]).permuted([0, 2, 1, 3])
        .reshaped([batch * heads, length, size])
    }
    // Batch 1: head h is row h of [H, T, hs].
    cache.append(keys: split(1), values: split(2))
    let attended = cache.attend(query: split(0), scale: scale)  // [H, T, hs]
    let merged = attended.reshaped([batch, heads, length, size]).permuted([0, 2, 1, 3])
      .reshaped([batch, length, width])
    return residDropout(cProj(merged))
  }
}
