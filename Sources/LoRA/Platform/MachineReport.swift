import Foundation

/// What the library runs on, for `lessons doctor` and every benchmark's header: the CPU, the
/// level of the library's own kernels, and the BLAS with its kernels and why each was chosen.
public struct MachineReport: Sendable {
  /// The CPU's facts.
  public var cpu: CPUFeatures
  /// The cores the library's loops and products are split between.
  public var cores: Int
  /// The level the library's own kernels run at.
  public var instructionSet: InstructionSet
  /// `LORA_ISA`, when set.
  public var instructionSetLimit: String?
  /// The BLAS in use.
  public var blas: BLASLibrary

  /// This process's machine (loading the BLAS, if no product has yet).
  public static func current() -> MachineReport {
    MachineReport(
      cpu: .current, cores: Parallel.cores, instructionSet: .current,
      instructionSetLimit: ProcessInfo.processInfo.environment["LORA_ISA"],
      blas: .current)
  }

  /// Label and text, one fact a line.
  public var facts: [(label: String, text: String)] {
    let cpuLevel = InstructionSet.cpu
    let kernels =
      instructionSet == cpuLevel
      ? "\(instructionSet), the CPU's best (\(ElementKernels.name))"
      : "\(instructionSet) (\(ElementKernels.name)): LORA_ISA=\(instructionSetLimit ?? "?") "
        + "on a CPU that runs \(cpuLevel)"
    return [
      ("CPU", "\(cpu.summary) × \(cores) cores"),
      ("library kernels", kernels),
      ("BLAS", blas.summary),
    ]
  }

  /// The facts in one paragraph, for a benchmark's header: "CPU: …. Library kernels: ….".
  public var paragraph: String {
    facts.map { "\($0.label.prefix(1).uppercased() + $0.label.dropFirst()): \($0.text)." }
      .joined(separator: " ")
  }
}

extension BLASLibrary {
  /// GFLOP/s of this BLAS on an `n × n` product on every core, with its own threads: the
  /// best of as many products as fit in about `seconds` (at least three).
  public func measureGFLOPS(n: Int = 1024, seconds: Double = 2) -> Double {
    let a = (0..<n * n).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
    let b = (0..<n * n).map { Float(($0 * 104_729) % 2003) / 1000 - 1 }
    var c = [Float](repeating: 0, count: n * n)
    return onEveryCore {
      var best = Double.infinity
      let start = DispatchTime.now().uptimeNanoseconds
      var runs = 0
      while runs < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let before = DispatchTime.now().uptimeNanoseconds
        squareProduct(a, b, into: &c, n: n)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - before) / 1e9)
        runs += 1
      }
      return 2 * Double(n * n * n) / best / 1e9
    }
  }
}
