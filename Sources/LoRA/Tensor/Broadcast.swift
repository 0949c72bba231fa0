/// The shape two tensors broadcast to, by NumPy's rules: shapes are aligned at their last
/// dimension, and each pair of sizes must be equal or contain a 1.
func broadcastShape(_ a: [Int], _ b: [Int], operation: String) -> [Int] {
  let rank = max(a.count, b.count)
  let paddedA = [Int](repeating: 1, count: rank - a.count) + a
  let paddedB = [Int](repeating: 1, count: rank - b.count) + b
  return zip(paddedA, paddedB).map { sizeA, sizeB in
    guard sizeA == sizeB || sizeA == 1 || sizeB == 1 else {
      fatalError("\(operation): shapes \(a) and \(b) cannot be broadcast together")
    }
    return max(sizeA, sizeB)
  }
}

/// Row-major strides of a contiguous tensor of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
  var strides = [Int](repeating: 1, count: shape.count)
  var stride = 1
  for axis in shape.indices.reversed() {
    strides[axis] = stride
    stride *= shape[axis]
  }
  return strides
}

/// Strides that read a contiguous tensor of `shape` as if broadcast to `target`:
/// broadcast dimensions get stride 0.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
  let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
  let strides = contiguousStrides(padded)
  return target.indices.map { padded[$0] == 1 && target[$0] != 1 ? 0 : strides[$0] }
}

/// How to walk an output shape row by row while reading two operands through strides.
///
/// Dimensions that both operands traverse contiguously are merged, so `[B, T, C] + [C]`
/// walks `B·T` rows of `C` elements, and equal shapes walk one long row.
struct BroadcastLayout {
  /// The merged output shape; never empty.
  private(set) var shape: [Int]
  private(set) var stridesA: [Int]
  private(set) var stridesB: [Int]

  /// A layout for `output` read from operands of shapes `a` and `b`, broadcast.
  init(output: [Int], a: [Int], b: [Int] = []) {
    self.init(
      shape: output, stridesA: broadcastStrides(a, to: output),
      stridesB: broadcastStrides(b, to: output))
  }

  /// A layout for `shape` read through arbitrary strides (a permutation, say).
  init(shape: [Int], stridesA: [Int], stridesB: [Int]) {
    var mergedShape: [Int] = []
    var mergedA: [Int] = []
    var mergedB: [Int] = []
    for axis in shape.indices where shape[axis] != 1 {
      if let last = mergedShape.last,
        mergedA.last! == stridesA[axis] * shape[axis],
        mergedB.last! == stridesB[axis] * shape[axis]
      {
        mergedShape[mergedShape.count - 1] = last * shape[axis]
        mergedA[mergedA.count - 1] = stridesA[axis]
        mergedB[mergedB.count - 1] = stridesB[axis]
      } else {
        mergedShape.append(shape[axis])
        mergedA.append(stridesA[axis])
        mergedB.append(stridesB[axis])
      }
    }
    if mergedShape.isEmpty || shape.contains(0) {
      mergedShape = [shape.contains(0) ? 0 : 1]
      mergedA = [0]
      mergedB = [0]
    }
    self.shape = mergedShape
    self.stridesA = mergedA
    self.stridesB = mergedB
  }

  /// Calls `body(offsetA, offsetB, length, strideA, strideB)` for each row of the last
  /// merged dimension, in row-major order of the output.
  @inline(__always)
  func forEachRow(_ body: (Int, Int, Int, Int, Int) -> Void) {
    let length = shape[shape.count - 1]
    guard length > 0 else { return }
    let innerA = stridesA[shape.count - 1]
    let innerB = stridesB[shape.count - 1]
    let outer = shape.count - 1
    if outer == 0 {
      body(0, 0, length, innerA, innerB)
      return
    }
    var index = [Int](repeating: 0, count: outer)
    var offsetA = 0
    var offsetB = 0
    let rows = shape[..<outer].reduce(1, *)
    for _ in 0..<rows {
      body(offsetA, offsetB, length, innerA, innerB)
      // Advance the multi-index like an odometer, updating offsets incrementally.
      var axis = outer - 1
      while axis >= 0 {
        index[axis] += 1
        offsetA += stridesA[axis]
        offsetB += stridesB[axis]
        if index[axis] < shape[axis] { break }
        offsetA -= stridesA[axis] * shape[axis]
        offsetB -= stridesB[axis] * shape[axis]
        index[axis] = 0
        axis -= 1
      }
    }
  }
}
