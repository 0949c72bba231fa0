internal import CKernels
import Foundation

struct ExpKernel: UnaryKernel {
  let derivativeNeedsInput = false
  func callAsFunction(_ x: Float) -> Float { fastExp(x) }
  func derivative(x: Float, y: Float) -> Float { y }
  static var nativeLoop: NativeMap? { lora_exp }
}
struct LogKernel: UnaryKernel {
  let derivativeNeedsInput = true
  func callAsFunction(_ x: Float) -> Float { Foundation.log(x) }
  func derivative(x: Float, y: Float) -> Float { 1 / x }
}
struct SqrtKernel: UnaryKernel {
  let derivativeNeedsInput = false
  func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
  func derivative(x: Float, y: Float) -> Float { 0.5 / y }
}
struct PowKernel: UnaryKernel {
  let exponent: Float
  let derivativeNeedsInput = true
  func callAsFunction(_ x: Float) -> Float { Foundation.pow(x, exponent) }
  func derivative(x: Float, y: Float) -> Float { exponent * Foundation.pow(x, exponent - 1) }
}
struct ReLUKernel: UnaryKernel {
  let derivativeNeedsInput = false
  func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 }
  func derivative(x: Float, y: Float) -> Float { y > 0 ? 1 : 0 }
}
struct TanhKernel: UnaryKernel {
  let derivativeNeedsInput = false
  func callAsFunction(_ x: Float) -> Float { Foundation.tanh(x) }
  func derivative(x: Float, y: Float) -> Float { 1 - y * y }
}
struct SigmoidKernel: UnaryKernel {
  let derivativeNeedsInput = false
  func callAsFunction(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
  func derivative(x: Float, y: Float) -> Float { y * (1 - y) }
}
/// The exact GELU, x·Φ(x), which is PyTorch's default (`approximate='none'`).
struct GELUKernel: UnaryKernel {
  let derivativeNeedsInput = true
  static var hasVectorForm: Bool { true }
  func callAsFunction(_ x: Float) -> Float { x * normalCDF(x) }
  func derivative(x: Float, y: Float) -> Float {
    normalCDF(x) + x * 0.398_942_28 * fastExp(-0.5 * x * x)
  }
  func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> { x * normalCDF(x) }
  func derivative(x: SIMD8<Float>, y: SIMD8<Float>) -> SIMD8<Float> {
    normalCDF(x) + x * 0.398_942_28 * fastExp(-0.5 * x * x)
  }
  static var nativeLoop: NativeMap? { lora_gelu }
  static var nativeGradient: NativeGradient? { lora_gelu_backward }
}

/// GELU's tanh approximation, GPT-2's `gelu_new` (PyTorch's `approximate='tanh'`):
/// ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³).
///
/// Written through e = e^(−2|u|), from the inlined `fastExp` rather than libm's `tanhf` (which
/// took a tenth of a GPT-2 step): ½(1 + tanh u) is 1/(1 + e) for u ≥ 0 and e/(1 + e) below,
/// and ½(1 − tanh² u) is 2e/(1 + e)². Neither subtracts, so the left tail keeps its
/// precision, where 1 + tanh u, rounded, keeps only a few bits (PyTorch's loses it: a
/// relative error of 1e-4 at x = −3.5).
struct GELUTanhKernel: UnaryKernel {
  let derivativeNeedsInput = true
  /// e^(−2|u|) and ½(1 + tanh u).
  @inline(__always) func parts(_ x: Float) -> (e: Float, halfOnePlusTanh: Float) {
    let u = 0.797_884_56 * (x + 0.044_715 * x * x * x)
    let e = fastExp(-2 * abs(u))
    return (e, (u < 0 ? e : 1) / (1 + e))
  }
  func callAsFunction(_ x: Float) -> Float { x * parts(x).halfOnePlusTanh }
  func derivative(x: Float, y: Float) -> Float {
    let (e, halfOnePlusTanh) = parts(x)
    let halfSech2 = 2 * e / ((1 + e) * (1 + e))
    return halfOnePlusTanh + x * halfSech2 * 0.797_884_56 * (1 + 3 * 0.044_715 * x * x)
  }
  static var nativeLoop: NativeMap? { lora_gelu_tanh }
  static var nativeGradient: NativeGradient? { lora_gelu_tanh_backward }
}

extension Tensor {
  /// Applies `kernel` to every element and records its derivative for backward.
  func elementwise<K: UnaryKernel>(_ kernel: K, operation: String) -> Tensor {
    let output = scalars.withUnsafeBufferPointer { x in
      makeScalars(count: count) { y in applyUnary(kernel, x, y) }
    }
    let node = gradNode
    // Keep the input only when the derivative needs it: ReLU's, for one, reads the output.
    let savedInput = node != nil && kernel.derivativeNeedsInput ? scalars : []
    return .result(of: operation, shape: shape, scalars: output, inputs: [self]) { gradient in
      savedInput.withUnsafeBufferPointer { x in
        output.withUnsafeBufferPointer { y in
          gradient.scalars.withUnsafeBufferPointer { g in
            node?.accumulate { accumulateUnaryGradient(kernel, x: x, y: y, gradient: g, into: $0) }
          }
        }
      }
    }
  }

  /// eˣ for every element.
  public func exp() -> Tensor { elementwise(ExpKernel(), operation: "exp") }
  /// The natural logarithm of every element.
  public func log() -> Tensor { elementwise(LogKernel(), operation: "log") }
  /// The square root of every element.
  public func sqrt() -> Tensor { elementwise(SqrtKernel(), operation: "sqrt") }
  /// Every element raised to `exponent`.
  public func pow(_ exponent: Float) -> Tensor {
    elementwise(PowKernel(exponent: exponent), operation: "pow")
  }
  /// max(x, 0) for every element.
  public func relu() -> Tensor { elementwise(ReLUKernel(), operation: "relu") }
  /// The hyperbolic tangent of every element.
  public func tanh() -> Tensor { elementwise(TanhKernel(), operation: "tanh") }
  /// 1 / (1 + e⁻ˣ) for every element.
  public func sigmoid() -> Tensor { elementwise(SigmoidKernel(), operation: "sigmoid") }
  /// The Gaussian error linear unit x·Φ(x), exact as in PyTorch's default.
  public func gelu() -> Tensor { elementwise(GELUKernel(), operation: "gelu") }
  /// GELU's tanh approximation, GPT-2's `gelu_new`, as `gelu(x, approximate='tanh')`.
  public func geluTanh() -> Tensor { elementwise(GELUTanhKernel(), operation: "gelu_tanh") }
}
