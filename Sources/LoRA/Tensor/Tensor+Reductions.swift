extension Tensor {
  /// The sum over `axes`, which are removed from the shape unless `keepDims` is set.
  /// Negative axes count from the end.
  public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
    let axes = Set(axes.map { normalizedAxis($0, for: "sum") })
    let keptShape = shape.indices.map { axes.contains($0) ? 1 : shape[$0] }
    let (node, inputShape) = (gradNode, shape)
    // Summing is broadcasting in reverse: every input element adds into the output element
    // it would have been broadcast from.
    let layout = BroadcastLayout(output: shape, a: keptShape)
    var output = [Float](repeating: 0, count: elementCount(keptShape))
    scalars.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer {
        accumulateBroadcast(source, layout: layout, into: $0)
      }
    }
    let outputShape =
      keepDims ? keptShape : shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
    return .result(of: "sum", shape: outputShape, scalars: output, inputs: [self]) { gradient in
      node?.accumulate(gradient.reshaped(keptShape).expanded(to: inputShape))
    }
  }

  /// The sum over one axis.
  public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
    sum(axes: [axis], keepDims: keepDims)
  }

  /// The sum of all elements, as a scalar tensor.
  public func sum() -> Tensor {
    sum(axes: Array(0..<rank))
  }

  /// The mean over `axes`.
  public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
    let reduced = Set(axes.map { normalizedAxis($0, for: "mean") }).map { shape[$0] }
    return sum(axes: axes, keepDims: keepDims) / Float(elementCount(reduced))
  }

  /// The mean over one axis.
  public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
    mean(axes: [axis], keepDims: keepDims)
  }

  /// The mean of all elements, as a scalar tensor.
  public func mean() -> Tensor {
    mean(axes: Array(0..<rank))
  }

  /// The largest element along `axis`. The gradient flows to the first largest element.
  public func max(axis: Int, keepDims: Bool = false) -> Tensor {
    let axis = normalizedAxis(axis, for: "max")
    let (outer, length, inner) = blocks(around: axis)
    guard length > 0 else { fatalError("max: axis \(axis) of shape \(shape) is empty") }
    var positions = [Int](repeating: 0, count: outer * inner)
    var output = [Float](repeating: 0, count: outer * inner)
    scalars.withUnsafeBufferPointer { x in
      for o in 0..<outer {
        for i in 0..<inner {
          var best = o * length * inner + i
          for j in 1..<length {
            let index = (o * length + j) * inner + i
            if x[index] > x[best] { best = index }
          }
          positions[o * inner + i] = best
          output[o * inner + i] = x[best]
        }
      }
    }
    var outputShape = shape
    if keepDims { outputShape[axis] = 1 } else { outputShape.remove(at: axis) }
    let node = gradNode
    return .result(of: "max", shape: outputShape, scalars: output, inputs: [self]) { gradient in
      node?.accumulate { target in
        for (slot, position) in positions.enumerated() {
          target[position] += gradient.scalars[slot]
        }
      }
    }
  }

  /// The largest element, as a scalar tensor.
  public func max() -> Tensor {
    reshaped([count]).max(axis: 0)
  }

  /// The index of the first largest element along the last axis, for each row.
  public func argmax() -> [Int] {
    let length = Swift.max(shape.last ?? 1, 1)
    return (0..<(count / length)).map { row in
      var best = 0
      for j in 1..<length where scalars[row * length + j] > scalars[row * length + best] {
        best = j
      }
      return best
    }
  }
}
