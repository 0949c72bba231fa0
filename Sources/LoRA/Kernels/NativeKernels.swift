internal import CKernels
import Foundation

// The element loops that run faster as C compiled for AVX2 and FMA (`Sources/CKernels`) on
// CPUs that have both: Swift compiles the whole library for baseline x86-64 (four SSE lanes,
// no fused multiply-add) and cannot mark one function for a wider target. Every other CPU,
// and every kernel without a C loop, keeps the portable Swift loops of `FastMath.swift`.
//
// The two paths agree to within a few float32 ulp, not bit for bit: the C loops fuse each
// multiply and add, rounding once where the Swift loops round twice. Exact GELU is the one
// difference of method: the C loop takes Φ = ½(1 + erf(x/√2)) with a rational erf, as
// PyTorch computes it (within 3e-7·max(1, |x|), and five times faster), where the Swift
// loop's erfc keeps a few ulp of relative precision on the far left tail too.

/// A native element loop: `(x, y, count)`.
typealias NativeMap =
  @convention(c) (
    UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int
  ) -> Void

/// A native gradient loop: `(x, g, dx, count)`, adding g · f'(x) into dx.
typealias NativeGradient =
  @convention(c) (
    UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int
  ) -> Void

/// Which loops this process runs.
public enum ElementKernels {
  /// Whether the AVX2 and FMA loops run: on CPUs with both, unless `LORA_ISA=baseline` (or
  /// `InstructionSet.limit(to:)`) keeps the portable loops (`InstructionSet`).
  public static var native: Bool { lora_has_avx2_fma() != 0 }

  /// `native`'s name for reports: "AVX2+FMA", with "AVX-512 exp and GELUs" where `exp` and
  /// the two GELUs run sixteen lanes at a time, or "portable".
  public static var name: String {
    guard native else { return "portable" }
    return lora_has_avx512() != 0 ? "AVX2+FMA, AVX-512 exp and GELUs" : "AVX2+FMA"
  }
}

/// The floating-point operations of the matrix products a thread has run, 2·m·n·k for each,
/// counted as BLAS is called (the way `torch.utils.flop_counter` counts `mm`). The
/// benchmark divides a training step's count by the machine's sgemm rate for the step's
/// floor. The count is per thread, so another thread's work never enters it: take the
/// difference around the work, on the thread that does it.
public enum MatrixProductCount {
  /// The count on the calling thread since it started.
  public static var onThisThread: Int { Int(lora_counted_product_flops()) }
}
