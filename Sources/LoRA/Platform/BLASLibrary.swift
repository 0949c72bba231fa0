import Foundation

#if canImport(Accelerate)
  import Accelerate
#elseif canImport(Glibc)
  import Glibc
#endif

/// The BLAS that the library's matrix products run on, loaded when the first product runs.
///
/// On Linux the library links no BLAS: it opens one at run time with `dlopen`, so that it
/// can (1) pick among the BLAS libraries installed (`LORA_BLAS=openblas|blis|mkl`, or a
/// library's path; OpenBLAS by default) and (2) correct OpenBLAS's choice of kernels before
/// the first product. OpenBLAS reads the CPU and `OPENBLAS_CORETYPE` once, in its own
/// constructor; when that choice is below what CPUID says the CPU runs (`OpenBLASCoreChoice`:
/// Prescott's SSE3 on an AVX-512 Xeon that the build does not know), the library sets
/// `OPENBLAS_CORETYPE` and asks OpenBLAS to choose again (`gotoblas_dynamic_quit` and
/// `gotoblas_dynamic_init`, what its constructor calls), then multiplies a set of test
/// products (`BLASSelfTest`) and falls back a level when they come out wrong. A user's own
/// `OPENBLAS_CORETYPE` is left alone. Everything that links the library gets this, whoever
/// started it: lesson programs, `lora-bench`, `lora-pretrain`, tests and other packages.
///
/// On Apple platforms the BLAS is Accelerate, linked as usual.
public struct BLASLibrary: @unchecked Sendable {
  /// The libraries the library can load.
  public enum Kind: String, Sendable {
    case openblas = "OpenBLAS", blis = "BLIS", mkl = "oneMKL", accelerate = "Accelerate"
  }

  /// Which library this is.
  public let kind: Kind
  /// The file loaded ("libopenblas.so.0"), or the framework.
  public let file: String
  /// The library's own version line ("0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64").
  public let version: String
  /// The kernels it runs ("Cooperlake", BLIS's "zen3"), where it says.
  public let kernels: String?
  /// How the library and its kernels were chosen, in a sentence or two.
  public let reason: String
  /// Whether the test products came out right with these kernels.
  public let selfTestPassed: Bool

  typealias Sgemm =
    @convention(c) (
      Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
  typealias Sgemv =
    @convention(c) (
      Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?,
      Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void

  let sgemmFunction: Sgemm
  let sgemvFunction: Sgemv
  let setThreadsFunction: (Int) -> Void
  /// The library's LAPACK, where it has one (OpenBLAS and oneMKL do, BLIS does not).
  var lapack: LAPACKFunctions?

  /// The BLAS in use, loaded and checked on first use.
  public static let current: BLASLibrary = BLASLoader.load(
    environment: ProcessInfo.processInfo.environment)

  /// One line for reports: "OpenBLAS 0.3.21 …, kernels Cooperlake (OpenBLAS's own choice, the
  /// best this CPU runs; self-test passed)".
  public var summary: String {
    "\(kind.rawValue) \(version)" + (kernels.map { ", kernels \($0)" } ?? "")
      + " (\(reason); self-test \(selfTestPassed ? "passed" : "FAILED"))"
  }

  /// `c = alpha · op(a) · op(b) + beta · c`, row-major, with the BLAS's own threads.
  public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    sgemmFunction(
      CBLASCode.rowMajor, transposeA ? CBLASCode.transpose : CBLASCode.noTranspose,
      transposeB ? CBLASCode.transpose : CBLASCode.noTranspose, Int32(m), Int32(n), Int32(k),
      alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// `y = alpha · op(a) · x + beta · y` for a row-major `rows × columns` matrix.
  func sgemv(
    transpose: Bool, rows: Int, columns: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, incX: Int, beta: Float, y: UnsafeMutablePointer<Float>
  ) {
    sgemvFunction(
      CBLASCode.rowMajor, transpose ? CBLASCode.transpose : CBLASCode.noTranspose, Int32(rows),
      Int32(columns), alpha, a, Int32(lda), x, Int32(incX), beta, y, 1)
  }

  /// Runs `body` with the BLAS on every core, with its own threads, then back on one (the
  /// library splits products between the cores itself: see `BLASThreads`). For measuring
  /// the BLAS's raw rate.
  public func onEveryCore<T>(_ body: () throws -> T) rethrows -> T {
    setThreadsFunction(Parallel.cores)
    defer { setThreadsFunction(1) }
    return try body()
  }

  /// `c = a · b` for `n × n` row-major matrices: one raw BLAS product, without the library's
  /// splitting or counting.
  public func squareProduct(_ a: [Float], _ b: [Float], into c: inout [Float], n: Int) {
    precondition(a.count == n * n && b.count == n * n && c.count == n * n)
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          sgemm(
            transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1,
            a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n, beta: 0, c: c.baseAddress!,
            ldc: n)
        }
      }
    }
  }
}

/// CBLAS's enumeration values, the same in every implementation (the reference `cblas.h`).
enum CBLASCode {
  static let rowMajor: Int32 = 101
  static let noTranspose: Int32 = 111
  static let transpose: Int32 = 112
}
