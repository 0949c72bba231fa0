/// What a layer adds to its weight's product (`Linear.addedToProduct`).
enum AddedPath {
  /// Nothing: a plain layer.
  case nothing
  /// `scaling · (x·downᵀ)·upᵀ`, drawing nothing at random (a LoRA path without dropout),
  /// which `fused` computes for several layers from one shared product of `x`.
  case lowRank(LowRankPath)
  /// Any other path, computed on its own (a LoRA path with dropout, whose layers each draw
  /// their own mask, in order).
  case other((Tensor) -> Tensor?)
}

/// A side path `scaling · (x·downᵀ)·upᵀ`, `down` `[r, in]` and `up` `[out, r]`.
struct LowRankPath {
  let down: Tensor
  let up: Tensor
  let scaling: Float

  /// The path of `x` on its own, as `LoRALinear.adapterPath` computes it.
  func apply(_ x: Tensor) -> Tensor {
    (x.linear(weight: down) * scaling).linear(weight: up)
  }
}

extension Linear {
  /// Applies several layers that read the same input, such as every head's key, query and
  /// value projections, with one matrix product over their stacked weights, and adds what
  /// each layer adds to its product (a `LoRALinear`'s low-rank path) into its own columns.
  ///
  /// The result is `[..., Σ out]`, layer `i`'s output in the columns after the layers before
  /// it: it equals `Tensor.concatenate(layers.map { $0(x) }, axis: -1)`, and gradients
  /// reach each layer's own weights through the stacking. One large product keeps BLAS far
  /// busier than many narrow ones. Returns `nil` when the layers cannot be stacked: a
  /// weight laid out `[in, out]`, some layers with a bias and some without, or a subclass
  /// whose forward fusion does not know.
  static func fused(_ layers: [Linear], _ x: Tensor) -> Tensor? {
    let biases = layers.compactMap(\.bias)
    let added = layers.compactMap(\.addedToProduct)
    guard added.count == layers.count, layers.allSatisfy({ $0.layout == .outIn }),
      biases.isEmpty || biases.count == layers.count
    else { return nil }
    let weight = Tensor.concatenate(layers.map(\.weight), axis: 0)  // [Σ out, in]
    let bias = biases.isEmpty ? nil : Tensor.concatenate(biases, axis: 0)
    let stacked = x.linear(weight: weight, bias: bias)  // [..., Σ out]
    // Each layer's added path goes into its own columns: two or more low-rank ones (LoRA's,
    // every head's query and value) from one shared product of `x`, the others on their own.
    let lowRank = added.map { path -> LowRankPath? in
      if case .lowRank(let lowRank) = path { return lowRank }
      return nil
    }
    let sharesDown = lowRank.compactMap { $0 }.count > 1
    var starts: [Int] = []
    var start = 0
    for layer in layers {
      starts.append(start)
      start += layer.outFeatures
    }
    let others = zip(added, starts).compactMap { path, start -> (start: Int, tensor: Tensor)? in
      switch path {
      case .nothing: return nil
      case .lowRank(let lowRank) where !sharesDown: return (start, lowRank.apply(x))
      case .lowRank: return nil
      case .other(let path): return path(x).map { (start, $0) }
      }
    }
    var result = others.isEmpty ? stacked : stacked.addingColumns(others)
    if sharesDown {
      let parts = zip(lowRank, starts).compactMap { path, start in path.map { (start, $0) } }
      // One product of `x` with the stacked `down` matrices: one pass over `x` instead of
      // one per layer, and in backward one product into x's gradient and one for all the
      // `down` gradients, instead of one of each per layer.
      let down = x.linear(weight: Tensor.concatenate(parts.map(\.1.down), axis: 0))  // [..., Σ r]
      result = result.addingLowRankColumns(
        down: down, parts.map { (start: $0.0, up: $0.1.up, scaling: $0.1.scaling) })
    }
    return result
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

extension Tensor {
  /// This tensor plus low-rank parts in their columns of the last axis: part `i` adds
  /// `scaling · d_i · upᵀ` into columns `start ..< start + out`, where `d_i` is the part's
  /// `r` columns of `down` (`[..., Σ r]`, the parts' columns in order) and `up` is
  /// `[out, r]`. The same as slicing `down`, scaling, multiplying and `addingColumns`, with
  /// the same products and the same numbers, as one operation: one scaled copy of `down`
  /// instead of a slice and a scaled copy per part, each part's product added straight into
  /// the result's columns (no per-part output), and in backward each gradient written
  /// straight into its block. About 5% of a step of lesson 03's model (8 parts a layer).
  func addingLowRankColumns(
    down: Tensor, _ parts: [(start: Int, up: Tensor, scaling: Float)]
  ) -> Tensor {
    let width = shape[rank - 1]
    let rows = count / Swift.max(width, 1)
    let totalRank = down.shape.last ?? 0
    var offsets: [Int] = []  // each part's first column of `down`
    var columns = 0
    for (start, up, _) in parts {
      guard up.rank == 2, start >= 0, start + up.shape[0] <= width else {
        fatalError(
          "addingLowRankColumns: an up matrix \(up.shape) at column \(start) does not fit \(shape)")
      }
      offsets.append(columns)
      columns += up.shape[1]
    }
    guard down.shape.dropLast() == shape.dropLast(), columns == totalRank else {
      fatalError(
        "addingLowRankColumns: down \(down.shape) does not match \(shape) and ranks "
          + "\(parts.map { $0.up.shape[1] })")
    }
    // `down` with each part's columns scaled, as `LoRALinear.adapterPath` scales its narrow
    // middle: the operand of the forward product and of the `up` gradient.
    let scaled = makeScalars(count: down.count) { scaled in
      down.scalars.withUnsafeBufferPointer { down in
        for (part, offset) in zip(parts, offsets) {
          let r = part.up.shape[1]
          for row in 0..<rows {
            for column in offset..<(offset + r) {
              scaled[row * totalRank + column] = down[row * totalRank + column] * part.scaling
            }
          }
        }
      }
    }
    let output = makeScalars(count: count) { output in
      scalars.withUnsafeBufferPointer { source in
        copyBlocks(
          rows, width: width, from: source.baseAddress!, StridedBlocks(base: 0, stride: width),
          to: output.baseAddress!, StridedBlocks(base: 0, stride: width))
      }
      scaled.withUnsafeBufferPointer { scaled in
        for (part, offset) in zip(parts, offsets) {
          part.up.scalars.withUnsafeBufferPointer { up in
            gemm(
              transposeA: false, transposeB: true, m: rows, n: part.up.shape[0],
              k: part.up.shape[1], a: scaled.baseAddress! + offset, lda: totalRank,
              b: up.baseAddress!, ldb: part.up.shape[1], beta: 1,
              c: output.baseAddress! + part.start, ldc: width)
          }
        }
      }
    }
    let (node, downNode) = (gradNode, down.gradNode)
    let ups = parts.map { (start: $0.start, up: $0.up, node: $0.up.gradNode, scaling: $0.scaling) }
    return .result(
      of: "addingLowRankColumns", shape: shape, scalars: output,
      inputs: [self, down] + parts.map(\.up)
    ) { gradient in
      node?.accumulate(gradient)
      gradient.scalars.withUnsafeBufferPointer { g in
        // d down_i = scaling · g_i · up, d up_i = g_iᵀ · (scaling · down_i).
        downNode?.accumulateOrWrite { target, fresh in
          for (part, offset) in zip(ups, offsets) {
            part.up.scalars.withUnsafeBufferPointer { up in
              gemm(
                transposeA: false, transposeB: false, m: rows, n: part.up.shape[1],
                k: part.up.shape[0], alpha: part.scaling, a: g.baseAddress! + part.start,
                lda: width, b: up.baseAddress!, ldb: part.up.shape[1], beta: fresh ? 0 : 1,
                c: target.baseAddress! + offset, ldc: totalRank)
            }
          }
        }
        scaled.withUnsafeBufferPointer { scaled in
          for (part, offset) in zip(ups, offsets) {
            part.node?.accumulateOrWrite { target, fresh in
              gemm(
                transposeA: true, transposeB: false, m: part.up.shape[0], n: part.up.shape[1],
                k: rows, a: g.baseAddress! + part.start, lda: width,
                b: scaled.baseAddress! + offset, ldb: totalRank, beta: fresh ? 0 : 1,
                c: target.baseAddress!, ldc: part.up.shape[1])
            }
          }
        }
      }
    }
  }
}
