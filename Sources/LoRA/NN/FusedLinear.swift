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
    return layers.map { layer in
      let output = stacked.slice(axis: -1, start..<(start + layer.outFeatures))
      start += layer.outFeatures
      return layer.sidePath(x).map { output + $0 } ?? output
    }
  }
}
