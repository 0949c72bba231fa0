import Foundation
import LoRA

#if canImport(Accelerate)
  import Accelerate
#else
  import CBLAS
#endif

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
    "CPU: \(cpu). BLAS: \(blas). Element loops: \(ElementKernels.name). "
      + "Raw cblas_sgemm at N = 1024 in this run: \(fixed(sgemmGFLOPS)) GFLOP/s; a step's "
      + "floor is its matrix products' GFLOP at that rate."
  }
}

/// "AMD EPYC (avx2 fma, no avx512f)": the model name, and which of the vector extensions
/// that decide the kernels the CPU reports (a VM's model name often omits the generation).
func cpuDescription() -> String {
  guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
    return ProcessInfo.processInfo.hostName
  }
  func field(_ name: String) -> String? {
    info.split(separator: "\n").first { $0.hasPrefix(name) }
      .flatMap { $0.split(separator: ":", maxSplits: 1).last }
      .map { $0.trimmingCharacters(in: .whitespaces) }
  }
  let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
  let extensions = ["avx2", "fma", "avx512f"].map { flags.contains($0) ? $0 : "no \($0)" }
  let cores = ProcessInfo.processInfo.activeProcessorCount
  return "\(field("model name") ?? "unknown") × \(cores) cores "
    + "(\(extensions.joined(separator: " ")))"
}

/// OpenBLAS's version, build options and the kernels it chose ("OpenBLAS 0.3.21 DYNAMIC_ARCH
/// ... kernels Zen"), or Accelerate.
func blasDescription() -> String {
  #if os(Linux)
    typealias TextFunction = @convention(c) () -> UnsafePointer<CChar>?
    guard let symbol = dlsym(nil, "openblas_get_config"),
      let config = unsafeBitCast(symbol, to: TextFunction.self)()
    else { return "unknown" }
    let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map {
      ", OPENBLAS_CORETYPE=\($0)"
    }
    return String(cString: config).trimmingCharacters(in: .whitespaces)
      + ", kernels \(blasKernels() ?? "?")" + (coretype ?? ", OPENBLAS_CORETYPE unset")
  #else
    return "Accelerate"
  #endif
}

/// GFLOP/s of a raw `cblas_sgemm` of two random N × N matrices.
func rawSgemmGFLOPS(_ n: Int) -> Double {
  let seconds = rawSgemmSeconds(Tensor.randn([n, n]).scalars, Tensor.randn([n, n]).scalars, n)
  return 2 * Double(n * n * n) / seconds / 1e9
}

/// Seconds per raw `cblas_sgemm` of `a` and `b`, N × N each, into a preallocated buffer.
///
/// OpenBLAS runs on all the cores for it, with its own threads: the library keeps OpenBLAS
/// on one thread and splits products itself (`BLASThreads`), which this measures against.
func rawSgemmSeconds(_ a: [Float], _ b: [Float], _ n: Int) -> Double {
  var c = [Float](repeating: 0, count: n * n)
  let threads = openblas_get_num_threads()
  openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
  defer { openblas_set_num_threads(threads) }
  return secondsPerCall {
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
            pa.baseAddress, Int32(n), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
        }
      }
    }
  }
}
