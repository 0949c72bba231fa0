internal import CKernels
import Foundation

/// What this CPU offers, as CPUID reports it (and only the extensions whose registers the
/// operating system saves): what the library's kernels and the BLAS's are chosen by.
public struct CPUFeatures: Sendable, Equatable {
  /// CPUID's vendor: "GenuineIntel", "AuthenticAMD", or "" off x86-64.
  public var vendor: String
  /// CPUID's family, extended field included (Intel's cores: 6; Zen 3 and 4: 25).
  public var family: Int
  /// CPUID's model, extended field included (Emerald Rapids: 207).
  public var model: Int
  /// The name the CPU gives itself (`/proc/cpuinfo`'s model name); "" where unknown.
  public var modelName: String
  /// The vector extensions present, by Linux's names: "sse3", "avx", "fma", "avx2",
  /// "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16",
  /// "avx512_fp16", "amx".
  public var extensions: Set<String>

  /// A CPU described by hand: to drive decisions with another machine's facts.
  public init(
    vendor: String, family: Int, model: Int, modelName: String = "", extensions: Set<String>
  ) {
    self.vendor = vendor
    self.family = family
    self.model = model
    self.modelName = modelName
    self.extensions = extensions
  }

  /// This machine's CPU.
  public static let current: CPUFeatures = {
    var cpu = lora_cpu()
    lora_read_cpu(&cpu)
    let vendor = withUnsafeBytes(of: cpu.vendor) { String(decoding: $0.prefix(12), as: UTF8.self) }
    let flags: [(String, Int32)] = [
      ("sse3", cpu.sse3), ("avx", cpu.avx), ("fma", cpu.fma), ("avx2", cpu.avx2),
      ("avx512f", cpu.avx512f), ("avx512dq", cpu.avx512dq), ("avx512cd", cpu.avx512cd),
      ("avx512bw", cpu.avx512bw), ("avx512vl", cpu.avx512vl), ("avx512_bf16", cpu.avx512bf16),
      ("avx512_fp16", cpu.avx512fp16), ("amx", cpu.amx),
    ]
    return CPUFeatures(
      vendor: vendor.trimmingCharacters(in: .controlCharacters), family: Int(cpu.family),
      model: Int(cpu.model), modelName: cpuModelName(),
      extensions: Set(flags.filter { $0.1 != 0 }.map(\.0)))
  }()

  /// Whether every one of `names` is present.
  public func has(_ names: String...) -> Bool { names.allSatisfy(extensions.contains) }

  /// The AVX-512 subset of Skylake-X (F, CD, BW, DQ, VL), which OpenBLAS's and BLIS's
  /// AVX-512 kernels assume.
  public var hasSkylakeAVX512: Bool {
    has("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
  }

  /// "AMD EPYC (family 25, model 17): avx2 fma avx512f avx512_bf16": the model, CPUID's
  /// numbers and the extensions that decide the kernels.
  public var summary: String {
    let shown = [
      "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16",
      "amx",
    ]
    let name = modelName.isEmpty ? vendor : modelName
    return "\(name) (family \(family), model \(model)): "
      + (shown.filter(extensions.contains).joined(separator: " ").nonEmpty ?? "no AVX")
  }
}

/// The instruction set levels of the library's own kernels (element loops, attention's block
/// products and transposes, exp and the GELUs): what the CPU runs, or a lower level that
/// `LORA_ISA=avx512|avx2|baseline` asks for, to run another CPU's code paths on this one.
public enum InstructionSet: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
  /// The portable Swift loops and plain C: any x86-64 or ARM CPU.
  case baseline = 0
  /// AVX2 and FMA, eight lanes: Haswell, Zen and later.
  case avx2 = 1
  /// AVX-512F beside them: exp and both GELUs in sixteen lanes.
  case avx512 = 2

  /// The highest level this CPU runs.
  public static var cpu: InstructionSet {
    InstructionSet(rawValue: Int(lora_cpu_isa())) ?? .baseline
  }

  /// The level the kernels use now: the CPU's, limited by `LORA_ISA` or `limit(to:)`.
  public static var current: InstructionSet {
    InstructionSet(rawValue: Int(lora_isa())) ?? .baseline
  }

  /// Limits the kernels to `level` (never above the CPU's) for the whole process, from the
  /// next operation on; `nil` goes back to `LORA_ISA`'s limit. For tests that compare
  /// levels: kernels running on other threads meanwhile switch too.
  public static func limit(to level: InstructionSet?) {
    lora_limit_isa(Int32(level?.rawValue ?? -1))
  }

  /// `LORA_ISA`'s spelling: "avx512", "avx2", "baseline".
  public var description: String {
    switch self {
    case .baseline: "baseline"
    case .avx2: "avx2"
    case .avx512: "avx512"
    }
  }

  /// Lower levels first.
  public static func < (a: InstructionSet, b: InstructionSet) -> Bool { a.rawValue < b.rawValue }
}

/// `/proc/cpuinfo`'s model name, or "" where there is none.
private func cpuModelName() -> String {
  guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
    let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
    let value = line.split(separator: ":", maxSplits: 1).last
  else { return "" }
  return value.trimmingCharacters(in: .whitespaces)
}

extension String {
  /// `nil` for the empty string.
  fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
