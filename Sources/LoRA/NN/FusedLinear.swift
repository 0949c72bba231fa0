extension Linear {
  /// Applies several layers that read the same input, such as every head's key, query and
  /// value projections, with one matrix product over their stacked weights, and adds each
  /// layer's side path (a `LoRALinear`'s low-rank path) into its own columns.
  ///
  /// The result is `[..., Σ out]`, layer `i`'s output in the columns after the layers before
  /// it: it equals `Tensor.concatenate(layers.map { $0(x) }, axis: -1)`, since every
  /// `Linear` is its weight's product plus its side path, and gradients reach each layer's
  /// own weights through the stacking. One large product keeps BLAS far busier than many
  /// narrow ones. Returns `nil` when the layers cannot be stacked: a weight laid out
  /// `[in, out]`, or some layers with a bias and some without.
  static func fused(_ layers: [Linear], _ x: Tensor) -> Tensor? {
    let biases = layers.compactMap(\.bias)
    guard layers.allSatisfy({ $0.layout == .outIn }),
      biases.isEmpty || biases.count == layers.count
    else { return nil }
    let weight = Tensor.concatenate(layers.map(\.weight), axis: 0)  // [Σ out, in]
    let bias = biases.isEmpty ? nil : Tensor.concatenate(biases, axis: 0)
    let stacked = x.linear(weight: weight, bias: bias)  // [..., Σ out]
    var start = 0
    let sides = zip(layers, sidePaths(layers, x)).compactMap { layer, side in
      defer { start += layer.outFeatures }
      return side.map { (start: start, tensor: $0) }
    }
    return sides.isEmpty ? stacked : stacked.addingColumns(sides)
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

extension Tensor {
  /// This tensor with each part added into its columns of the last axis: part `i`,
  /// `[..., w]`, into columns `start ..< start + w`. Backward hands this tensor the whole
  /// gradient and each part its columns of it.
  func addingColumns(_ parts: [(start: Int, tensor: Tensor)]) -> Tensor {
    let width = shape[rank - 1]
    let rows = count / Swift.max(width, 1)
    for (start, part) in parts {
      let partWidth = part.shape.last ?? 0
      guard part.shape.dropLast() == shape.dropLast(), start >= 0, start + partWidth <= width
      else {
        fatalError(
          "addingColumns: a \(part.shape) part at column \(start) does not fit \(shape)")
      }
    }
    let whole = StridedBlocks(base: 0, stride: width)
    let output = makeScalars(count: count) { output in
      scalars.withUnsafeBufferPointer { source in
        copyBlocks(
          rows, width: width, from: source.baseAddress!, whole, to: output.baseAddress!, whole)
      }
      for (start, part) in parts {
        part.scalars.withUnsafeBufferPointer { source in
          addBlocks(
            rows, width: part.shape[rank - 1], from: source.baseAddress!,
            StridedBlocks(base: 0, stride: part.shape[rank - 1]), into: output.baseAddress!,
            StridedBlocks(base: start, stride: width))
        }
      }
    }
    let node = gradNode
    let partNodes = parts.map {
      (start: $0.start, width: $0.tensor.shape[rank - 1], node: $0.tensor.gradNode)
    }
    return .result(
      of: "addingColumns", shape: shape, scalars: output, inputs: [self] + parts.map(\.tensor)
    ) { gradient in
      node?.accumulate(gradient)
      gradient.scalars.withUnsafeBufferPointer { g in
        for (start, partWidth, partNode) in partNodes {
          partNode?.accumulateBlocks(
            rows, width: partWidth, from: g.baseAddress!, StridedBlocks(base: start, stride: width))
        }
      }
    }
  }
}
