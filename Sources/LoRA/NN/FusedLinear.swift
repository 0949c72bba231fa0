extension Linear {
  /// Applies several layers that read the same input, such as every head's key, query and
  /// value projections, with one matrix product over their stacked weights, and then adds
  /// each layer's side path (a `LoRALinear`'s low-rank path).
  ///
  /// The result equals `layers.map { $0(x) }`, since every `Linear` is its weight's product
  /// plus its side path, and gradients reach each layer's own weights through the
  /// stacking. One large product keeps BLAS far busier than many narrow ones. Returns `nil`
  /// when the layers cannot be stacked: a weight laid out `[in, out]`, or some layers with
  /// a bias and some without.
  static func fused(_ layers: [Linear], _ x: Tensor) -> [Tensor]? {
    let biases = layers.compactMap(\.bias)
    guard layers.allSatisfy({ $0.layout == .outIn }),
      biases.isEmpty || biases.count == layers.count
    else { return nil }
    let weight = Tensor.concatenate(layers.map(\.weight), axis: 0)  // [Σ out, in]
    let bias = biases.isEmpty ? nil : Tensor.concatenate(biases, axis: 0)
    let stacked = x.linear(weight: weight, bias: bias)  // [..., Σ out]
    var start = 0
    let products = layers.map { layer in
      defer { start += layer.outFeatures }
      return stacked.slice(axis: -1, start..<(start + layer.outFeatures))
    }
    return zip(products, sidePaths(layers, x)).map { product, side in
      side.map { product + $0 } ?? product
    }
  }

  /// Each layer's side path of `x`. Two or more low-rank ones (LoRA's, every head's query
  /// and value) share one product of `x` with their stacked `down` matrices: one pass over
  /// `x` instead of one per layer, and in backward one product into x's gradient and one
  /// for all the `down` gradients, instead of one of each per layer.
  private static func sidePaths(_ layers: [Linear], _ x: Tensor) -> [Tensor?] {
    let lowRank = layers.map(\.lowRankSidePath)
    let shared = lowRank.compactMap { $0 }
    guard shared.count > 1 else { return layers.map { $0.sidePath(x) } }
    let down = x.linear(weight: Tensor.concatenate(shared.map(\.down), axis: 0))  // [..., Σ r]
    var start = 0
    return zip(layers, lowRank).map { layer, path in
      guard let path else { return layer.sidePath(x) }
      let rank = path.down.shape[0]
      defer { start += rank }
      // Scaling the narrow [..., r] middle, as `LoRALinear.adapterPath` does.
      return (down.slice(axis: -1, start..<(start + rank)) * path.scaling).linear(weight: path.up)
    }
  }
}
