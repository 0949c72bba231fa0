/// Creates an array of `count` floats, every one written by `initialize`.
@inline(__always)
func makeScalars(count: Int, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
  [Float](unsafeUninitializedCapacity: count) { buffer, initializedCount in
    initialize(buffer)
    initializedCount = count
  }
}

struct AddKernel: BinaryKernel {
  func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}
struct SubtractKernel: BinaryKernel {
  func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}
struct MultiplyKernel: BinaryKernel {
  func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}
struct DivideKernel: BinaryKernel {
  func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

extension Tensor {
  /// Applies `kernel` to `self` and `other` broadcast together, without recording a graph.
  func broadcasting<K: BinaryKernel>(_ kernel: K, _ other: Tensor, operation: String) -> Tensor {
    let outputShape = broadcastShape(shape, other.shape, operation: operation)
    let layout = BroadcastLayout(output: outputShape, a: shape, b: other.shape)
    let output = scalars.withUnsafeBufferPointer { a in
      other.scalars.withUnsafeBufferPointer { b in
        makeScalars(count: elementCount(outputShape)) { out in
          applyBinary(kernel, a, b, layout: layout, into: out)
        }
      }
    }
    return Tensor(shape: outputShape, scalars: output)
  }

  /// Adds `gradient`, shaped like a broadcast result, into this tensor's gradient, summing
  /// over the dimensions along which this tensor was broadcast.
  func accumulateBroadcastGrad(_ gradient: Tensor) {
    guard requiresGrad else { return }
    if gradient.shape == shape {
      accumulateGrad(gradient)
      return
    }
    let layout = BroadcastLayout(output: gradient.shape, a: shape)
    gradient.scalars.withUnsafeBufferPointer { source in
      accumulateGrad { target in accumulateBroadcast(source, layout: layout, into: target) }
    }
  }

  /// Element-wise sum with broadcasting.
  public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
    let value = lhs.broadcasting(AddKernel(), rhs, operation: "add")
    return result(of: "add", shape: value.shape, scalars: value.scalars, inputs: [lhs, rhs]) {
      gradient in
      lhs.accumulateBroadcastGrad(gradient)
      rhs.accumulateBroadcastGrad(gradient)
    }
  }

  /// Element-wise difference with broadcasting.
  public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
    let value = lhs.broadcasting(SubtractKernel(), rhs, operation: "subtract")
    return result(
      of: "subtract", shape: value.shape, scalars: value.scalars, inputs: [lhs, rhs]
    ) { gradient in
      lhs.accumulateBroadcastGrad(gradient)
      if rhs.requiresGrad { rhs.accumulateBroadcastGrad(-gradient) }
    }
  }

  /// Element-wise product with broadcasting.
  public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
    let value = lhs.broadcasting(MultiplyKernel(), rhs, operation: "multiply")
    return result(
      of: "multiply", shape: value.shape, scalars: value.scalars, inputs: [lhs, rhs]
    ) { gradient in
      if lhs.requiresGrad { lhs.accumulateBroadcastGrad(gradient * rhs) }
      if rhs.requiresGrad { rhs.accumulateBroadcastGrad(gradient * lhs) }
    }
  }

  /// Element-wise quotient with broadcasting.
  public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
    let value = lhs.broadcasting(DivideKernel(), rhs, operation: "divide")
    return result(
      of: "divide", shape: value.shape, scalars: value.scalars, inputs: [lhs, rhs]
    ) { gradient in
      if lhs.requiresGrad { lhs.accumulateBroadcastGrad(gradient / rhs) }
      // d(a/b)/db = -a/b² = -(a/b)/b
      if rhs.requiresGrad { rhs.accumulateBroadcastGrad(-(gradient * value) / rhs) }
    }
  }

  /// Element-wise negation.
  public static prefix func - (operand: Tensor) -> Tensor {
    operand * -1
  }

  /// Adds a scalar to every element.
  public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs + Tensor(rhs) }
  /// Adds a scalar to every element.
  public static func + (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) + rhs }
  /// Subtracts a scalar from every element.
  public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs - Tensor(rhs) }
  /// Subtracts every element from a scalar.
  public static func - (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) - rhs }
  /// Multiplies every element by a scalar.
  public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs * Tensor(rhs) }
  /// Multiplies every element by a scalar.
  public static func * (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) * rhs }
  /// Divides every element by a scalar.
  public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs / Tensor(rhs) }
  /// Divides a scalar by every element.
  public static func / (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) / rhs }
}
