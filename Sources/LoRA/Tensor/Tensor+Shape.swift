struct FirstKernel: BinaryKernel {
  func callAsFunction(_ a: Float, _ b: Float) -> Float { a }
}

extension Tensor {
  /// The same elements in a new shape; one dimension may be `-1` to be inferred.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    let resolved = resolveShape(newShape)
    let (node, inputShape) = (gradNode, shape)
    return .result(of: "reshape", shape: resolved, scalars: scalars, inputs: [self]) {
      gradient in
      node?.accumulate(Tensor(shape: inputShape, scalars: gradient.scalars))
    }
  }

  private func resolveShape(_ newShape: [Int]) -> [Int] {
    let inferred = newShape.indices.filter { newShape[$0] == -1 }
    let known = newShape.filter { $0 != -1 }.reduce(1, *)
    var resolved = newShape
    if inferred.count == 1, known > 0, count % known == 0 {
      resolved[inferred[0]] = count / known
    }
    guard inferred.count <= 1, !resolved.contains(where: { $0 < 0 }),
      elementCount(resolved) == count
    else {
      fatalError(
        "reshape: cannot view a tensor of shape \(shape) (\(count) elements) as \(newShape)")
    }
    return resolved
  }

  /// The dimensions reordered: result dimension `i` is this tensor's `dimensions[i]`.
  public func permuted(_ dimensions: [Int]) -> Tensor {
    let axes = dimensions.map { normalizedAxis($0, for: "permute") }
    guard axes.count == rank, Set(axes).count == rank else {
      fatalError(
        "permute: \(dimensions) is not a permutation of the \(rank) dimensions of \(shape)")
    }
    let node = gradNode
    let outputShape = axes.map { shape[$0] }
    let sourceStrides = contiguousStrides(shape)
    let layout = BroadcastLayout(
      shape: outputShape, stridesA: axes.map { sourceStrides[$0] },
      stridesB: [Int](repeating: 0, count: rank))
    let output = scalars.withUnsafeBufferPointer { source in
      [Float(0)].withUnsafeBufferPointer { unused in
        makeScalars(count: count) {
          applyBinary(FirstKernel(), source, unused, layout: layout, into: $0)
        }
      }
    }
    return .result(of: "permute", shape: outputShape, scalars: output, inputs: [self]) {
      gradient in
      var inverse = [Int](repeating: 0, count: axes.count)
      for (position, axis) in axes.enumerated() { inverse[axis] = position }
      node?.accumulate(gradient.permuted(inverse))
    }
  }

  /// The tensor with two dimensions swapped, like `torch.transpose`.
  public func transposed(_ first: Int, _ second: Int) -> Tensor {
    var axes = Array(0..<rank)
    axes.swapAt(normalizedAxis(first, for: "transpose"), normalizedAxis(second, for: "transpose"))
    return permuted(axes)
  }

  /// The transpose of a matrix, or of the last two dimensions of a batch of matrices.
  public var mT: Tensor {
    guard rank >= 2 else { fatalError("mT: needs at least 2 dimensions, got shape \(shape)") }
    return transposed(-2, -1)
  }

  /// The tensor with a dimension of size 1 inserted at `axis`.
  public func unsqueezed(_ axis: Int) -> Tensor {
    let position = axis < 0 ? axis + rank + 1 : axis
    guard position >= 0 && position <= rank else {
      fatalError("unsqueeze: axis \(axis) is out of range for shape \(shape)")
    }
    var newShape = shape
    newShape.insert(1, at: position)
    return reshaped(newShape)
  }

  /// The tensor repeated along its dimensions of size 1 to `newShape`, by broadcasting.
  public func expanded(to newShape: [Int]) -> Tensor {
    let outputShape = broadcastShape(shape, newShape, operation: "expand")
    guard outputShape == newShape else {
      fatalError("expand: shape \(shape) cannot be expanded to \(newShape)")
    }
    let node = gradNode
    let value = broadcasting(FirstKernel(), Tensor.zeros(newShape), operation: "expand")
    return .result(of: "expand", value, inputs: [self]) { gradient in
      node?.accumulateBroadcast(gradient)
    }
  }

  /// The sizes before, along and after `axis`: a tensor is `outer` blocks of `length`
  /// slices of `inner` contiguous elements.
  func blocks(around axis: Int) -> (outer: Int, length: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
  }

  /// Elements `range` along `axis`, like `x[..., start:end, ...]` in PyTorch.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let axis = normalizedAxis(axis, for: "slice")
    guard range.lowerBound >= 0 && range.upperBound <= shape[axis] else {
      fatalError("slice: range \(range) is out of bounds for axis \(axis) of shape \(shape)")
    }
    let (outer, length, inner) = blocks(around: axis)
    var outputShape = shape
    outputShape[axis] = range.count
    let block = range.count * inner
    let node = gradNode
    // Block o of the slice is at o · block in the output, and at (o · length + lower) ·
    // inner in this tensor.
    let packed = StridedBlocks(base: 0, stride: block)
    let inPlace = StridedBlocks(base: range.lowerBound * inner, stride: length * inner)
    let output = scalars.withUnsafeBufferPointer { source in
      makeScalars(count: outer * block) { out in
        copyBlocks(
          outer, width: block, from: source.baseAddress!, inPlace, to: out.baseAddress!, packed)
      }
    }
    return .result(of: "slice", shape: outputShape, scalars: output, inputs: [self]) {
      gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        node?.accumulateOrWrite { target, fresh in
          if fresh {
            copyBlocksZeroingTheRest(
              outer, width: block, from: g.baseAddress!, sourceStride: block,
              into: target.baseAddress!, offset: inPlace.base, stride: inPlace.stride)
          } else {
            addBlocks(
              outer, width: block, from: g.baseAddress!, packed, into: target.baseAddress!, inPlace)
          }
        }
      }
    }
  }

  /// Joins tensors along `axis`; every other dimension must agree.
  public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    guard let first = tensors.first else { fatalError("concatenate: needs at least one tensor") }
    let axis = first.normalizedAxis(axis, for: "concatenate")
    for tensor in tensors {
      var expected = first.shape
      expected[axis] = tensor.shape.count == first.rank ? tensor.shape[axis] : -1
      guard tensor.shape == expected else {
        fatalError(
          "concatenate: shapes \(first.shape) and \(tensor.shape) differ outside axis \(axis)")
      }
    }
    let outer = first.blocks(around: axis).outer
    let inner = first.blocks(around: axis).inner
    let blocks = tensors.map { $0.shape[axis] * inner }
    let outputBlock = blocks.reduce(0, +)
    var outputShape = first.shape
    outputShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
    // Block o of input t is at o · block in t, and at o · outputBlock + (t's start) in the
    // output.
    let starts = blocks.indices.map { blocks[..<$0].reduce(0, +) }
    let output = makeScalars(count: outer * outputBlock) { out in
      for (tensor, (block, start)) in zip(tensors, zip(blocks, starts)) {
        tensor.scalars.withUnsafeBufferPointer { source in
          copyBlocks(
            outer, width: block, from: source.baseAddress!, StridedBlocks(base: 0, stride: block),
            to: out.baseAddress!, StridedBlocks(base: start, stride: outputBlock))
        }
      }
    }
    let nodes = tensors.map(\.gradNode)
    return result(of: "concatenate", shape: outputShape, scalars: output, inputs: tensors) {
      gradient in
      gradient.scalars.withUnsafeBufferPointer { g in
        for (node, (block, start)) in zip(nodes, zip(blocks, starts)) {
          node?.accumulateBlocks(
            outer, width: block, from: g.baseAddress!,
            StridedBlocks(base: start, stride: outputBlock))
        }
      }
    }
  }
}
