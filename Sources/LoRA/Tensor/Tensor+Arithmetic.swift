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

  /// Element-wise sum with broadcasting.
  public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
    let (a, b) = (lhs.gradNode, rhs.gradNode)
    return result(
      of: "add", lhs.broadcasting(AddKernel(), rhs, operation: "add"), inputs: [lhs, rhs]
    ) { gradient in
      a?.accumulateBroadcast(gradient)
      b?.accumulateBroadcast(gradient)
    }
  }

  /// Element-wise difference with broadcasting.
  public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
    let (a, b) = (lhs.gradNode, rhs.gradNode)
    return result(
      of: "subtract", lhs.broadcasting(SubtractKernel(), rhs, operation: "subtract"),
      inputs: [lhs, rhs]
    ) { gradient in
      a?.accumulateBroadcast(gradient)
      b?.accumulateBroadcast(-gradient)
    }
  }

  /// Element-wise product with broadcasting.
  public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
    let (a, b) = (lhs.gradNode, rhs.gradNode)
    // Each side's gradient needs the other side's values; keep only those that are needed.
    let (savedLeft, savedRight) = (b == nil ? nil : lhs, a == nil ? nil : rhs)
    return result(
      of: "multiply", lhs.broadcasting(MultiplyKernel(), rhs, operation: "multiply"),
      inputs: [lhs, rhs]
    ) { gradient in
      if let a, let savedRight { a.accumulateBroadcast(gradient * savedRight) }
      if let b, let savedLeft { b.accumulateBroadcast(gradient * savedLeft) }
    }
  }

  /// Element-wise quotient with broadcasting.
  public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
    let (a, b) = (lhs.gradNode, rhs.gradNode)
    let quotient = lhs.broadcasting(DivideKernel(), rhs, operation: "divide")
    let savedQuotient = b == nil ? nil : quotient.detach()
    return result(of: "divide", quotient, inputs: [lhs, rhs]) { gradient in
      a?.accumulateBroadcast(gradient / rhs)
      // d(a/b)/db = -a/b² = -(a/b)/b
      if let b, let savedQuotient { b.accumulateBroadcast(-(gradient * savedQuotient) / rhs) }
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
