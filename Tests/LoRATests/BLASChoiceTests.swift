import Foundation
import Testing

@testable import LoRA

/// How the library corrects OpenBLAS's choice of kernels (`OpenBLASCoreChoice`), driven with
/// real CPUs' CPUID facts and OpenBLAS's answers, and the self-test that guards a switch.
@Suite("BLAS kernels chosen for the CPU")
struct BLASChoiceTests {
  /// The Intel Xeon of the BLAS issue: family 6, model 207 (Emerald Rapids), AVX-512 with
  /// BF16 and FP16, no AMX; Debian 12's OpenBLAS 0.3.21 does not know it.
  let emeraldRapids = CPUFeatures(
    vendor: "GenuineIntel", family: 6, model: 207,
    extensions: [
      "sse3", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
      "avx512_bf16", "avx512_fp16",
    ])
  /// AMD Zen 4 (family 25, model 17), where 0.3.21 chooses Cooperlake itself.
  let zen4 = CPUFeatures(
    vendor: "AuthenticAMD", family: 25, model: 17,
    extensions: [
      "sse3", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
      "avx512_bf16",
    ])
  /// AMD Zen 3: AVX2 and FMA, no AVX-512.
  let zen3 = CPUFeatures(
    vendor: "AuthenticAMD", family: 25, model: 1, extensions: ["sse3", "avx", "fma", "avx2"])
  /// An Intel laptop core of the 13th generation (Raptor Lake): AVX2, AVX-512 fused off.
  let raptorLake = CPUFeatures(
    vendor: "GenuineIntel", family: 6, model: 183, extensions: ["sse3", "avx", "fma", "avx2"])

  @Test func prescottOnEmeraldRapidsMovesToTheAVX512Kernels() {
    let choice = OpenBLASCoreChoice(cpu: emeraldRapids, openBLASChose: "Prescott", userSetting: nil)
    #expect(choice.candidates == ["Cooperlake", "SkylakeX", "Haswell", "Sandybridge"])
    #expect(choice.reason.contains("Prescott (SSE3) on a CPU with AVX-512"))
  }

  @Test func prescottOnAnAVX2LaptopMovesToHaswell() {
    let choice = OpenBLASCoreChoice(cpu: raptorLake, openBLASChose: "Prescott", userSetting: nil)
    #expect(choice.candidates == ["Haswell", "Sandybridge"])
    let onZen3 = OpenBLASCoreChoice(cpu: zen3, openBLASChose: "Nehalem", userSetting: nil)
    #expect(onZen3.candidates == ["Zen", "Sandybridge"])
  }

  @Test func aGoodChoiceIsKept() {
    for (cpu, chosen) in [(zen4, "Cooperlake"), (zen3, "Zen"), (raptorLake, "Haswell")] {
      let choice = OpenBLASCoreChoice(cpu: cpu, openBLASChose: chosen, userSetting: nil)
      #expect(choice.candidates.isEmpty, "\(chosen)")
    }
    // SkylakeX on a CPU with BF16 is the same level: not below the CPU, so left alone.
    #expect(
      OpenBLASCoreChoice(cpu: emeraldRapids, openBLASChose: "SkylakeX", userSetting: nil)
        .candidates.isEmpty)
  }

  @Test func theUsersOwnCoreTypeWins() {
    let choice = OpenBLASCoreChoice(
      cpu: emeraldRapids, openBLASChose: "Prescott", userSetting: "Prescott")
    #expect(choice.candidates.isEmpty)
    #expect(choice.reason.contains("set by the user"))
  }

  @Test func aNameNotRankedIsLeftAlone() {
    #expect(
      OpenBLASCoreChoice(cpu: emeraldRapids, openBLASChose: "ARMV8", userSetting: nil)
        .candidates.isEmpty)
  }

  /// This machine's own CPUID facts, with OpenBLAS said to have chosen Prescott: the best
  /// candidate is the best level this CPU reports.
  @Test func thisCPUAfterAPrescottFallback() {
    let cpu = CPUFeatures.current
    let choice = OpenBLASCoreChoice(cpu: cpu, openBLASChose: "Prescott", userSetting: nil)
    let expected: String? =
      cpu.hasSkylakeAVX512
      ? (cpu.has("avx512_bf16") ? "Cooperlake" : "SkylakeX")
      : cpu.has("avx2", "fma")
        ? (cpu.vendor == "AuthenticAMD" ? "Zen" : "Haswell")
        : cpu.has("avx") ? "Sandybridge" : nil
    #expect(choice.candidates.first == expected)
  }

  @Test func aSetThatFailsTheSelfTestFallsBackALevel() {
    let choice = OpenBLASCoreChoice(cpu: emeraldRapids, openBLASChose: "Prescott", userSetting: nil)
    var loaded: [String] = []
    var current = "Prescott"
    let (kept, notes) = choice.apply(
      original: "Prescott",
      switchTo: {
        loaded.append($0); current = $0
      },
      selfTest: { current != "Cooperlake" })
    #expect(kept == "SkylakeX")
    #expect(loaded == ["Cooperlake", "SkylakeX"])
    #expect(notes == ["Cooperlake failed the self-test"])
  }

  @Test func whenEverySetFailsOpenBLASGoesBackToItsOwn() {
    let choice = OpenBLASCoreChoice(cpu: raptorLake, openBLASChose: "Prescott", userSetting: nil)
    var loaded: [String] = []
    let (kept, notes) = choice.apply(
      original: "Prescott", switchTo: { loaded.append($0) }, selfTest: { false })
    #expect(kept == "Prescott")
    #expect(loaded == ["Haswell", "Sandybridge", "Prescott"])
    #expect(notes.count == 2)
  }

  /// The BLAS in use passes; products that are wrong in one element, or that write past a
  /// row, do not.
  @Test func theSelfTestCatchesWrongProducts() {
    #expect(BLASLibrary.current.selfTestPassed)
    #expect(BLASSelfTest.passes(BLASLibrary.current.sgemmFunction))
    let offByOne: BLASLibrary.Sgemm = {
      order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      BLASLibrary.current.sgemmFunction(
        order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      if m > 60 && n > 60 { c![Int(ldc) + 1] += 1e-3 }
    }
    #expect(!BLASSelfTest.passes(offByOne))
    let pastTheRow: BLASLibrary.Sgemm = {
      order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      BLASLibrary.current.sgemmFunction(
        order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      if ldc > n { c![Int(n)] = 0 }
    }
    #expect(!BLASSelfTest.passes(pastTheRow))
    let ignoresBeta: BLASLibrary.Sgemm = {
      order, ta, tb, m, n, k, alpha, a, lda, b, ldb, _, c, ldc in
      BLASLibrary.current.sgemmFunction(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
    }
    #expect(!BLASSelfTest.passes(ignoresBeta))
  }
}
