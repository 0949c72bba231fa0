import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// `lessons run --sandbox`, probed from inside: a lesson that looks for everything it should
/// not see or do, beside a teacher's key, a gradebook and another student's submission.
@Suite("The sandbox")
struct SandboxTests {
  @Test func aSandboxedLessonSeesItsDataAndNothingElse() throws {
    #if os(Linux)
      _ = try Sandbox.locateBubblewrap()
      let work = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID())")
      try FileManager.default.createDirectory(
        at: work.appendingPathComponent("data"), withIntermediateDirectories: true)
      try FileManager.default.createDirectory(
        at: work.appendingPathComponent("submissions"), withIntermediateDirectories: true)
      try "1 2 3\n".write(
        to: work.appendingPathComponent("data/numbers.txt"), atomically: true, encoding: .utf8)
      try "the solution".write(
        to: work.appendingPathComponent("key.md"), atomically: true, encoding: .utf8)
      try "bob.md,ok,5\n".write(
        to: work.appendingPathComponent("gradebook.csv"), atomically: true, encoding: .utf8)
      try "bob's work".write(
        to: work.appendingPathComponent("submissions/bob.md"), atomically: true, encoding: .utf8)
      let probe = """
        # Probe

        ```swift
        let numbers = try String(contentsOfFile: "data/numbers.txt", encoding: .utf8)
        check(numbers == "1 2 3\\n", "the lesson's own data file is readable")
        for path in ["key.md", "WORK/key.md", "WORK/gradebook.csv", "WORK/submissions", "/root", "/home", "/etc/passwd", "/etc/shadow"] {
          check(!FileManager.default.fileExists(atPath: path), "\\(path) is not there")
        }
        let allowed: Set = ["PATH", "HOME", "TMPDIR", "LANG", "PWD", "SWIFT_BACKTRACE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]
        check(Set(ProcessInfo.processInfo.environment.keys).isSubset(of: allowed), "the environment is an allowlist")
        for path in ["/proc/self/environ", "/proc/self/mem", "/proc/self/maps", "/proc/self/exe", "/proc"] {
          check(!FileManager.default.fileExists(atPath: path), "\\(path) is not there")
        }
        // Swift reads the arguments from /proc on Linux: without it there are none. The
        // binary is still found by looking.
        check(CommandLine.arguments.isEmpty, "no arguments without /proc")
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        let binary = "/tmp/" + (runs.first { $0.hasPrefix("lessons-run-") } ?? "?") + "/lesson"
        check(FileManager.default.fileExists(atPath: binary), "the program's own binary is at \\(binary)")
        check(FileManager.default.contents(atPath: binary) == nil, "its bytes cannot be read")
        check(open(binary, O_RDONLY) == -1 && errno == EACCES, "open(2) is refused too")
        for path in ["pwned.txt", "/pwned", "/dev/pwned", "/usr/pwned"] {
          check((try? "x".write(toFile: path, atomically: false, encoding: .utf8)) == nil, "\\(path) cannot be written")
        }
        check((try? "x".write(toFile: "/tmp/mine.txt", atomically: false, encoding: .utf8)) != nil, "/tmp can be written")
        let child = fork()
        if child == 0 { _exit(0) }
        check(child == -1 && errno == EPERM, "no process can be started")
        var interfaces: UnsafeMutablePointer<ifaddrs>? = nil
        var names: Set<String> = []
        if getifaddrs(&interfaces) == 0 {
          var next = interfaces
          while let interface = next {
            names.insert(String(cString: interface.pointee.ifa_name))
            next = interface.pointee.ifa_next
          }
          freeifaddrs(interfaces)
        }
        check(names.isSubset(of: ["lo"]), "no network but loopback: \\(names)")
        // What lessons use keeps working without /proc: the library's products on every
        // core, its parallel loops, a training step.
        check(ProcessInfo.processInfo.activeProcessorCount >= 1, "the CPUs are counted")
        let layer = LoRALinear(base: Linear(64, 64), rank: 4, alpha: 8)
        let optimizer = AdamW(layer.trainableParameters, learningRate: 0.01)
        let batch = Tensor.randn([256, 64])
        let before = layer(batch).pow(2).mean().item()
        for _ in 0..<20 {
          optimizer.zeroGrad()
          let loss = layer(batch).pow(2).mean()
          loss.backward()
          optimizer.step()
        }
        check(layer(batch).pow(2).mean().item() < before, "a LoRA layer trains")
        var threadRan = false
        let thread = Thread { threadRan = true }
        thread.start()
        Thread.sleep(forTimeInterval: 0.3)
        check(threadRan, "threads still work")
        ```
        """.replacingOccurrences(of: "WORK", with: work.path)
      try probe.write(
        to: work.appendingPathComponent("probe.md"), atomically: true, encoding: .utf8)
      let result = try lessons(
        ["run", "probe.md", "--sandbox", "--json"], in: work,
        environment: ["TEACHER_API_TOKEN": "s3cret"])
      #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
      #expect(result.stdout.contains("\"passed\" : true"))
      #expect(!result.stdout.contains("\"passed\" : false"), "\(result.stdout)")
      #expect(!FileManager.default.fileExists(atPath: work.path + "/pwned.txt"))
    #endif
  }

  @Test func theNoNewProcessesFilterIsWellFormed() throws {
    let filter = try #require(noNewProcessesFilter())
    // struct sock_filter is 8 bytes; every jump lands inside the program.
    #expect(filter.count % 8 == 0)
    let count = filter.count / 8
    for index in 0..<count {
      let code = UInt16(filter[index * 8]) | UInt16(filter[index * 8 + 1]) << 8
      let isJump = code & 0x07 == 0x05
      if isJump {
        let (jt, jf) = (Int(filter[index * 8 + 2]), Int(filter[index * 8 + 3]))
        #expect(index + 1 + max(jt, jf) < count, "instruction \(index) jumps past the end")
      }
    }
    // The last instruction returns.
    #expect(filter[(count - 1) * 8] == 0x06)
  }

  @Test func dataPathsAreTheFilesTheCodeNamesAndNeverMarkdown() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID())")
    for folder in ["models", "data", "submissions"] {
      try FileManager.default.createDirectory(
        at: work.appendingPathComponent(folder), withIntermediateDirectories: true)
    }
    try "x".write(to: work.appendingPathComponent("key.md"), atomically: true, encoding: .utf8)
    let text = """
      # Paths

      ```swift
      let model = "models/base.safetensors"
      let text = "data/shakespeare.txt"
      let key = "key.md"
      let up = "../secrets"
      let absolute = "/etc/shadow"
      let missing = "nothing/here"
      ```
      """
    let lesson = try Lesson(parsing: text, path: work.appendingPathComponent("lesson.md").path)
    #expect(dataPaths(of: lesson) == ["data", "models"])
  }
}
