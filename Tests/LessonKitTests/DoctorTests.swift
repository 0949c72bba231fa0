import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// `lessons doctor`, and OpenBLAS's kernels corrected end to end: with the test hook
/// `LORA_TEST_OPENBLAS_CHOOSES=Prescott`, OpenBLAS really starts on its SSE3 kernels, as
/// Debian 12's does on a CPU it does not know, and both the doctor and a lesson program
/// must end up on the CPU's best kernels with nothing else set.
@Suite("lessons doctor and the BLAS kernels")
struct DoctorTests {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID())")

  /// The CPU's vector extensions, as Linux lists them.
  var cpuFlags: Set<Substring> {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
    return Set(line.split(separator: " "))
  }

  @Test func doctorNamesTheCPUTheKernelsAndTheTools() throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let result = try lessons(["doctor", "--seconds", "0.2"], in: folder)
    #expect(result.status == 0, "\(result.stderr)")
    for label in [
      "CPU", "library kernels", "BLAS", "sgemm", "Swift", "Node.js", "KaTeX",
      "Chromium", "bubblewrap",
    ] {
      #expect(result.stdout.contains("\n\(label) ") || result.stdout.hasPrefix(label), "\(label)")
    }
    #expect(result.stdout.contains("self-test passed"))
    let limited = try lessons(
      ["doctor", "--seconds", "0"], in: folder, environment: ["LORA_ISA": "baseline"])
    #expect(limited.stdout.contains("library kernels  baseline (portable)"), "\(limited.stdout)")
    let typo = try lessons(
      ["doctor", "--seconds", "0"], in: folder, environment: ["LORA_ISA": "avx3"])
    #expect(typo.status == 2)
    #expect(typo.stderr.contains("LORA_ISA=avx3: expected avx512, avx2 or baseline"))
    let unknown = try lessons(
      ["doctor", "--seconds", "0"], in: folder, environment: ["LORA_BLAS": "atlas"])
    #expect(unknown.status == 2)
    #expect(unknown.stderr.contains("LORA_BLAS=atlas: expected openblas, blis, mkl"))
    let missing = try lessons(
      ["doctor", "--seconds", "0"], in: folder, environment: ["LORA_BLAS": "/nowhere/libblas.so"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("tried /nowhere/libblas.so"))
  }

  @Test(.enabled(if: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil))
  func aPrescottFallbackIsCorrectedInTheDoctorAndInLessons() throws {
    try #require(cpuFlags.contains("avx"), "a CPU below AVX has nothing better than SSE3")
    let best =
      ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpuFlags.contains)
      ? (cpuFlags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX")
      : cpuFlags.contains("avx2") ? "Haswell|Zen" : "Sandybridge"
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let hook = ["LORA_TEST_OPENBLAS_CHOOSES": "Prescott"]
    let doctor = try lessons(["doctor", "--seconds", "0"], in: folder, environment: hook)
    #expect(doctor.status == 0, "\(doctor.stderr)")
    #expect(doctor.stdout.contains("OpenBLAS chose Prescott (SSE3)"), "\(doctor.stdout)")
    #expect(doctor.stdout.range(of: "kernels (\(best)) \\(", options: .regularExpression) != nil)
    #expect(doctor.stdout.contains("self-test passed"))

    let lesson = """
      # Which kernels

      ```swift
      print("kernels:", BLASLibrary.current.kernels ?? "none")
      let a = Tensor.ones([64, 64])
      print("sum:", a.matmul(a).sum().item())
      ```
      """
    try lesson.write(
      to: folder.appendingPathComponent("kernels.md"), atomically: true, encoding: .utf8)
    let run = try lessons(["run", "kernels.md", "--no-cache"], in: folder, environment: hook)
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(
      run.stdout.range(of: "kernels: (\(best))\\b", options: .regularExpression) != nil,
      "\(run.stdout)")
    #expect(run.stdout.contains("sum: 262144.0"))
    // The user's own OPENBLAS_CORETYPE is left as it is.
    let own = try lessons(
      ["run", "kernels.md"], in: folder, environment: ["OPENBLAS_CORETYPE": "Prescott"])
    #expect(own.stdout.contains("kernels: Prescott"), "\(own.stdout)")
  }
}
