/// OpenBLAS's x86-64 kernel sets, as its `openblas_get_corename()` and `OPENBLAS_CORETYPE`
/// spell them, and which one a CPU should run.
///
/// OpenBLAS built with DYNAMIC_ARCH (Debian's and Ubuntu's) picks its kernels when it loads,
/// from a table of CPU models it knows. A CPU newer than the build is not in the table, and
/// OpenBLAS before 0.3.25 then falls back to its oldest kernels: Debian 12's 0.3.21 runs
/// Prescott's SSE3 code on an Emerald Rapids Xeon (family 6, model 207), at a fifth of the
/// speed its AVX-512 kernels reach there. `OpenBLASCoreChoice` compares OpenBLAS's answer
/// with the CPU's own facts and says what to run instead.
public enum OpenBLASCore {
  /// The instruction sets OpenBLAS's kernels need, lowest first.
  public enum Level: Int, Comparable, Sendable {
    case sse = 0, avx, avx2, avx512

    /// Lower levels first.
    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
  }

  /// The level of the kernel set `name` (any case), or `nil` for one this library does not
  /// rank (another architecture's, or a name newer than this table).
  public static func level(of name: String) -> Level? {
    switch name.lowercased() {
    case "skylakex", "cooperlake", "sapphirerapids": .avx512
    case "haswell", "zen": .avx2
    case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": .avx
    case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
      "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat":
      .sse
    default: nil
    }
  }

  /// The kernel sets `cpu` runs, best first, as Debian 12's OpenBLAS (0.3.21) names them:
  /// Cooperlake (AVX-512 with BF16), SkylakeX (AVX-512), Haswell or, on AMD, Zen (AVX2 and
  /// FMA), Sandybridge (AVX). Empty for a CPU below AVX, where SSE3 is the best there is.
  public static func candidates(for cpu: CPUFeatures) -> [String] {
    var sets: [String] = []
    if cpu.hasSkylakeAVX512 {
      if cpu.has("avx512_bf16") { sets.append("Cooperlake") }
      sets.append("SkylakeX")
    }
    if cpu.has("avx2", "fma") { sets.append(cpu.vendor == "AuthenticAMD" ? "Zen" : "Haswell") }
    if cpu.has("avx") { sets.append("Sandybridge") }
    return sets
  }
}

/// What to do about OpenBLAS's kernels, decided from the CPU's facts, what OpenBLAS chose,
/// and the user's own `OPENBLAS_CORETYPE`.
public struct OpenBLASCoreChoice: Equatable, Sendable {
  /// The kernel sets to try in turn, best first, each kept only if it passes the self-test;
  /// empty to keep OpenBLAS's choice.
  public var candidates: [String]
  /// Why, in a sentence, for `lessons doctor` and the benchmark header.
  public var reason: String

  /// Decides. `chosen` is `openblas_get_corename()`'s answer; `userSetting` is the user's
  /// `OPENBLAS_CORETYPE`, which is never overridden.
  public init(cpu: CPUFeatures, openBLASChose chosen: String, userSetting: String?) {
    if let userSetting, !userSetting.isEmpty {
      self.init(candidates: [], reason: "OPENBLAS_CORETYPE=\(userSetting), set by the user")
      return
    }
    guard let level = OpenBLASCore.level(of: chosen) else {
      self.init(candidates: [], reason: "OpenBLAS's own choice (\(chosen))")
      return
    }
    let better = OpenBLASCore.candidates(for: cpu).filter {
      OpenBLASCore.level(of: $0)! > level
    }
    if better.isEmpty {
      self.init(candidates: [], reason: "OpenBLAS's own choice, the best this CPU runs")
    } else {
      self.init(
        candidates: better,
        reason:
          "OpenBLAS chose \(chosen) (\(level)) on a CPU with \(OpenBLASCore.level(of: better[0])!)")
    }
  }

  /// A choice made elsewhere: `candidates` to try in turn, and why.
  public init(candidates: [String], reason: String) {
    self.candidates = candidates
    self.reason = reason
  }

  /// Tries the candidates in turn: `switchTo` loads a kernel set, `selfTest` checks it. The
  /// first that passes is kept; when none does, OpenBLAS goes back to `original`. Returns
  /// the set kept and what happened, one line a candidate.
  public func apply(
    original: String, switchTo: (String) -> Void, selfTest: () -> Bool
  ) -> (kernels: String, notes: [String]) {
    var notes: [String] = []
    for candidate in candidates {
      switchTo(candidate)
      if selfTest() { return (candidate, notes) }
      notes.append("\(candidate) failed the self-test")
    }
    if !candidates.isEmpty { switchTo(original) }
    return (original, notes)
  }
}

extension OpenBLASCore.Level: CustomStringConvertible {
  /// "SSE3", "AVX", "AVX2", "AVX-512".
  public var description: String {
    switch self {
    case .sse: "SSE3"
    case .avx: "AVX"
    case .avx2: "AVX2"
    case .avx512: "AVX-512"
    }
  }
}
