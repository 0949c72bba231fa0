import Foundation
import LoRA

/// What a training step's figures are measured against: the machine (`MachineReport`: the
/// CPU, the level of the library's kernels, the BLAS and its kernels, as `lessons doctor`
/// prints them), and the rate of a raw `cblas_sgemm` at N = 1024 in this same run, which
/// turns a step's floating-point operations into its floor: the time of its products alone,
/// at that rate.
struct MachineLimit {
  var machine: MachineReport
  var sgemmGFLOPS: Double

  /// Reads the machine and times the raw product.
  static func measure() -> MachineLimit {
    MachineLimit(machine: .current(), sgemmGFLOPS: rawSgemmGFLOPS(1024))
  }

  /// The floor of a step of `gigaflops` products, in milliseconds.
  func floorMilliseconds(gigaflops: Double) -> Double { gigaflops / sgemmGFLOPS * 1000 }

  /// One paragraph for the benchmark's output.
  var summary: String {
    machine.paragraph + " Raw cblas_sgemm at N = 1024 in this run: \(fixed(sgemmGFLOPS)) "
      + "GFLOP/s; a step's floor is its matrix products' GFLOP at that rate."
  }
}

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
  return blas.onEveryCore {
    secondsPerCall { blas.squareProduct(a, b, into: &c, n: n) }
  }
}
