import Foundation

// Causal self-attention, in one place: the char GPT's heads (nanoGPT's `Head` and
// `MultiHeadAttention`) and GPT-2's fused `GPT2Attention`. Each projects, calls
// `Tensor.scaledDotProductAttention` (with the key/value cache when generating), and
// projects back; the fast paths live behind that call, in `Kernels/`.

/// One head of causal self-attention, with its own `key`, `query` and `value` projections,
/// so that LoRA can target `query` and `value` by name.
///
/// Like the tutorial's PyTorch head, it has a `tril` buffer, the `[blockSize, blockSize]`
/// causal mask, so that its state dict has the same entries; the mask is applied by
/// `scaledDotProductAttention`, and the buffer is made only when a checkpoint is saved or
/// checked.
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

  /// Attention of every position of `x` `[B, T, C]` (or `[T, C]`) over itself and the
  /// positions before it: `[B, T, headSize]` (or `[T, headSize]`).
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    batchedIfNeeded(x) { x in
      // In the order of the layers, which may draw dropout masks.
      let (k, q, v) = (key(x), query(x), value(x))
      return Tensor.scaledDotProductAttention(
        .separate(query: q, key: k, value: v),
        scale: 1 / Float(query.outFeatures).squareRoot(),
        dropout: dropout.isTraining ? dropout.p : 0)
    }
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
    batchedIfNeeded(x) { attend($0, cache: nil) }
  }

  /// Attention over `x` `[B, T, C]`, and over the keys and values of earlier positions in
  /// `cache` (every head, batch of 1), which the new ones are appended to.
  func attend(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    let size = heads[0].query.outFeatures
    let (scale, p) = (
      1 / Float(size).squareRoot(), heads[0].dropout.isTraining ? heads[0].dropout.p : 0
    )
    // With many positions, one product for every head's key, query and value beats 3·H
    // narrow ones; a single new token (generation) is cheaper head by head.
    if x.count / x.shape[2] >= 64,
      let projected = Linear.fused(heads.flatMap { [$0.key, $0.query, $0.value] }, x)
    {
      let joined = Tensor.scaledDotProductAttention(
        .packed(projected, columns: .headByHead(heads: heads.count, size: size)), scale: scale,
        dropout: p, cache: cache)
      return dropout(proj(joined))  // [B, T, C]
    }
    // Each head's projections in the order of its layers, which draw in that order.
    let projections = heads.map { head in
      (key: head.key(x), query: head.query(x), value: head.value(x))
    }
    /// The heads' `part`s, `[B · H, T, hs]`, batch row by batch row.
    func stacked(_ part: ((key: Tensor, query: Tensor, value: Tensor)) -> Tensor) -> Tensor {
      let (batch, length) = (x.shape[0], x.shape[1])
      return Tensor.concatenate(
        projections.map { part($0).reshaped([batch, 1, length, size]) }, axis: 1
      ).reshaped([batch * heads.count, length, size])
    }
    let attended = Tensor.scaledDotProductAttention(
      .separate(query: stacked(\.query), key: stacked(\.key), value: stacked(\.value)),
      scale: scale, dropout: p, cache: cache)
    return dropout(proj(attended.joiningHeads(batch: x.shape[0])))  // [B, T, C]
  }
}

/// GPT-2's causal self-attention, as transformers' `GPT2Attention`: one `Conv1D` projects
/// to queries, keys and values side by side (`c_attn`, the layer PEFT's GPT-2 recipes put LoRA on),
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

  init(_ config: GPT2Config, layer: Int, path: String, projections: GPT2.Projections) {
    heads = config.nHead
    var scale: Float =
      config.scaleAttnWeights ? 1 / Float(config.nEmbd / config.nHead).squareRoot() : 1
    if config.scaleAttnByInverseLayerIdx { scale /= Float(layer + 1) }
    self.scale = scale
    attnDropout = Dropout(config.attnPdrop)
    residDropout = Dropout(config.residPdrop)
    let cAttn = projections(path + ".c_attn", 3 * config.nEmbd, config.nEmbd)
    let cProj = projections(path + ".c_proj", config.nEmbd, config.nEmbd)
    super.init()
    (self.cAttn, self.cProj) = (cAttn, cProj)
  }

  /// Attention of every position of `x` [B, T, C] over itself and the positions before it.
  public override func callAsFunction(_ x: Tensor) -> Tensor { attend(x, cache: nil) }

  /// Attention over `x`, and over the keys and values of earlier positions in `cache` (all
  /// heads, batch of 1), which the new ones are appended to.
  func attend(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    let merged = Tensor.scaledDotProductAttention(
      .packed(cAttn(x), columns: .grouped(heads: heads, size: x.shape[2] / heads)),
      scale: scale, dropout: attnDropout.isTraining ? attnDropout.p : 0, cache: cache)
    return residDropout(cProj(merged))  // [B, T, C]
  }
}

/// `body` of `x` as a batch of one when `x` is `[T, C]`, its result returned as `[T, …]`;
/// of `x` itself when it is `[B, T, C]`.
private func batchedIfNeeded(_ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
  guard x.rank == 2 else { return body(x) }
  let result = body(x.reshaped([1] + x.shape))
  return result.reshaped(Array(result.shape.dropFirst()))
}
