import Foundation
import LoRA

/// What a training step's figures are measured against: the machine (CPU model and the
/// vector extensions that matter here), the BLAS and its kernels, and the rate of a raw
/// `cblas_sgemm` at N = 1024 in this same run, which turns a step's floating-point
/// operations into its floor: the time of its products alone, at that rate.
struct MachineLimit {
  var cpu: String
  var blas: String
  var sgemmGFLOPS: Double

  /// Reads the machine and times the raw product.
  static func measure() -> MachineLimit {
    MachineLimit(cpu: cpuDescription(), blas: blasDescription(), sgemmGFLOPS: rawSgemmGFLOPS(1024))
  }

  /// The floor of a step of `gigaflops` products, in milliseconds.
  func floorMilliseconds(gigaflops: Double) -> Double { gigaflops / sgemmGFLOPS * 1000 }

  /// One paragraph for the benchmark's output.
  var summary: String {
    "CPU: \(cpu). BLAS: \(blas). The library's kernels: \(InstructionSet.current) "
      + "(\(ElementKernels.name)). "
      + "Raw cblas_sgemm at N = 1024 in this run: \(fixed(sgemmGFLOPS)) GFLOP/s; a step's "
      + "floor is its matrix products' GFLOP at that rate."
  }
}

/// "AMD EPYC (family 25, model 17): avx avx2 fma avx512f … × 2 cores": the model, CPUID's
/// numbers and the vector extensions that decide the kernels (a VM's model name often omits
/// the generation).
func cpuDescription() -> String {
  "\(CPUFeatures.current.summary) × \(ProcessInfo.processInfo.activeProcessorCount) cores"
}

/// The BLAS, its version, the kernels it runs and why.
func blasDescription() -> String { BLASLibrary.current.summary }

/// GFLOP/s of a raw `cblas_sgemm` of two random N × N matrices.
func rawSgemmGFLOPS(_ n: Int) -> Double {
  let seconds = rawSgemmSeconds(Tensor.randn([n, n]).scalars, Tensor.randn([n, n]).scalars, n)
  return 2 * Double(n * n * n) / seconds / 1e9
}

/// Seconds per raw `cblas_sgemm` of `a` and `b`, N × N each, into a preallocated buffer.
///
/// The BLAS runs on all the cores for it, with its own threads: the library keeps the BLAS
/// on one thread and splits products itself (`BLASThreads`), which this measures against.
func rawSgemmSeconds(_ a: [Float], _ b: [Float], _ n: Int) -> Double {
  var c = [Float](repeating: 0, count: n * n)
  let blas = BLASLibrary.current
  blas.setThreads(ProcessInfo.processInfo.activeProcessorCount)
  defer { blas.setThreads(1) }
  return secondsPerCall {
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          blas.sgemm(
            transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1,
            a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!,
            ldc: n)
        }
      }
    }
  }
}
