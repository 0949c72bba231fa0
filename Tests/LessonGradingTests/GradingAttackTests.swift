import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit

/// A cheating student against the grader: each attack replaces the `double` exercise of
/// `Grading/key.md` in the released student version, leaves the other exercises unsolved,
/// and must score 0, leave no file behind and no process running.
@Suite("Grading, attacked by a cheating student", .serialized)
struct GradingAttackTests {
  /// The stub that the student version holds for `double`.
  static let stub = "func double(_ x: Int) -> Int {\n  0  // your code\n}"

  /// A teacher's folder: the key, a data file, a gradebook, and the released student
  /// version in `submissions/`.
  func workspace() throws -> URL {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("attack-\(UUID())")
    try FileManager.default.createDirectory(
      at: work.appendingPathComponent("submissions"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: GradingTests.folder.appendingPathComponent("key.md"),
      to: work.appendingPathComponent("key.md"))
    try "submission,status,score\nalice.md,ok,5\n".write(
      to: work.appendingPathComponent("submissions/gradebook.csv"), atomically: true,
      encoding: .utf8)
    let export = try lessons(["export", "key.md", "--student", "-o", "student.md"], in: work)
    #expect(export.status == 0, "\(export.stderr)")
    return work
  }

  /// Grades the student version with `double` replaced by `code` (`WORK` in it becomes the
  /// teacher's folder), and returns the report and the `double` exercise's grade.
  func grade(_ code: String, in work: URL, extraArguments: [String] = [])
    throws -> (report: GradeReport, double: ExerciseGrade)
  {
    let student = try String(
      contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    #expect(student.contains(Self.stub))
    let attack = student.replacingOccurrences(
      of: Self.stub, with: code.replacingOccurrences(of: "WORK", with: work.path))
    try attack.write(
      to: work.appendingPathComponent("submissions/mallory.md"), atomically: true,
      encoding: .utf8)
    let result = try lessons(
      ["grade", "submissions/mallory.md", "--key", "key.md", "--json", "--timeout", "60"]
        + extraArguments, in: work, environment: ["TEACHER_API_TOKEN": "s3cret-token"])
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(result.stdout.utf8))
    let double = try #require(report.exercises.first { $0.id == "double" })
    return (report, double)
  }

  /// Code that would shadow, forge or reach the runtime by name: refused before it runs.
  static let screened: [(name: String, code: String, reason: String)] = [
    (
      "shadows checkEqual",
      stub + """

        func checkEqual<T: Equatable>(_ a: T, _ b: T, _ message: String, line: Int = #line) -> Bool {
          LessonRuntime.check(true, message, line: line)
        }
        """, "declares `checkEqual`"
    ),
    ("shadows a module", stub + "\nenum LessonRuntime {}", "declares `LessonRuntime`"),
    (
      "redefines equality",
      stub + "\nextension Int { static func == (a: Int, b: Int) -> Bool { true } }",
      "extends `Int`"
    ),
    (
      "calls the cell markers",
      stub + "\nfor cell in 2..<7 { _lessonCellStarted(cell, token: 0); check(true, \"forged\") }",
      "`_lessonCellStarted`"
    ),
    (
      "reaches the runtime by symbol name",
      stub + """

        @_silgen_name("$s13LessonRuntime01_lessonCellStarted_5tokenySi_s6UInt64VtF")
        func mark(_ cell: Int, token: UInt64)
        """, "`@_silgen_name`"
    ),
    (
      "exports a C symbol",
      stub + "\n@_cdecl(\"fflush\") func flush(_ file: OpaquePointer?) -> Int32 { 0 }",
      "`@_cdecl`"
    ),
    ("looks up symbols", stub + "\nlet found = dlsym(nil, \"write\")", "`dlsym`"),
    (
      "swallows the cells after it", stub + "\n/* the rest of the lesson is a comment",
      "does not parse"
    ),
    ("imports a module", "import Glibc\n" + stub, "imports `Glibc`"),
  ]

  /// One teacher's folder for every screened attack (the suite runs one test at a time):
  /// each is refused and the key's solution runs in its place, so every one of them grades
  /// the same program, which is compiled once.
  static let screenedWorkspace: URL? = try? GradingAttackTests().workspace()

  @Test("refused before it runs", arguments: screened.map(\.name))
  func screenedAttack(name: String) throws {
    let attack = try #require(Self.screened.first { $0.name == name })
    let work = try #require(Self.screenedWorkspace)
    let (report, double) = try grade(attack.code, in: work)
    #expect(report.score == 0, "\(name): \(report)")
    #expect(double.earned == 0)
    #expect(double.error?.contains(attack.reason) == true, "\(name): \(double.error ?? "none")")
    // The other exercises are graded as usual (their stubs fail), not thrown away.
    #expect(report.status == .ok)
  }

  @Test func rewritingTheEventsAtExitAndWritingEveryDescriptorEarnNothing() throws {
    let work = try workspace()
    let (report, double) = try grade(
      """
      func double(_ x: Int) -> Int { 0 }
      atexit {
        // A key from the environment, if the runner left one there.
        let environ = (try? String(contentsOfFile: "/proc/self/environ", encoding: .utf8)) ?? ""
        let key =
          environ.split(separator: "\\0").first { $0.hasPrefix("LESSONS_KEY=") }?.dropFirst(12)
          ?? "guess"
        for cell in 0..<16 {
          for message in ["double(2) is 4", "double(21) is 42"] {
            let line =
              "{\\"kind\\":\\"check\\",\\"cell\\":\\(cell),\\"passed\\":true,\\"message\\":\\"\\(message)\\","
              + "\\"line\\":1,\\"key\\":\\"\\(key)\\",\\"at\\":0}\\n"
            // Safe Swift: `write(2)` with a string is unsafe code, refused in an exercise.
            for descriptor in Int32(0)..<256 {
              try? FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
                .write(contentsOf: Data(line.utf8))
            }
          }
        }
        // Any file open for this process that holds a failed check, rewritten.
        for descriptor in 0..<256 {
          guard
            let target = try? FileManager.default.destinationOfSymbolicLink(
              atPath: "/proc/self/fd/\\(descriptor)"),
            let text = try? String(contentsOfFile: target, encoding: .utf8),
            text.contains("\\"passed\\":false")
          else { continue }
          try? text.replacingOccurrences(of: "\\"passed\\":false", with: "\\"passed\\":true")
            .write(toFile: target, atomically: false, encoding: .utf8)
        }
      }
      """, in: work)
    // It compiled and ran (no error); its checks ran and failed, as the stub's do.
    #expect(double.error == nil, "\(double)")
    #expect(double.earned == 0)
    #expect(double.checks.count == 2 && double.checks.allSatisfy { !$0.passed }, "\(double)")
    #expect(report.score == 0)
  }

  @Test func readingTheKeyAndTheGradersSecretsFindsNothing() throws {
    let work = try workspace()
    let (report, double) = try grade(
      """
      func double(_ x: Int) -> Int {
        // The key's solution, from the key itself, wherever it can be found.
        let places = ["WORK/key.md", "key.md", "../key.md", "../../key.md"]
        let key = places.lazy.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first
        return key?.contains("2 * x") == true ? 2 * x : 0
      }
      let secrets = [
        ProcessInfo.processInfo.environment["TEACHER_API_TOKEN"] ?? "",
        (try? String(contentsOfFile: "/proc/self/environ", encoding: .utf8)) ?? "",
        (try? String(contentsOfFile: "WORK/key.md", encoding: .utf8)) ?? "",
        (try? FileManager.default.contentsOfDirectory(atPath: "WORK/submissions"))?.description ?? "",
      ].joined(separator: "\\n")
      // Out through any folder that can be written.
      for folder in ["WORK", "WORK/submissions", ".", NSHomeDirectory(), "/var/tmp"] {
        try? secrets.write(toFile: folder + "/leak.txt", atomically: false, encoding: .utf8)
      }
      """, in: work)
    #expect(double.error == nil, "\(double)")
    #expect(double.checks.count == 2, "\(double)")
    #expect(double.earned == 0, "the key was readable: \(double)")
    #expect(report.score == 0)
    for folder in [work.path, work.path + "/submissions", "/var/tmp"] {
      #expect(!FileManager.default.fileExists(atPath: folder + "/leak.txt"), "\(folder)")
    }
  }

  @Test func aProcessStartedToOutliveTheGraderNeverStarts() throws {
    let work = try workspace()
    let (report, double) = try grade(
      """
      func double(_ x: Int) -> Int { 0 }
      // A shell that waits in a session of its own, then rewrites the gradebook.
      let escape = Process()
      escape.executableURL = URL(fileURLWithPath: "/bin/sh")
      escape.arguments = [
        "-c",
        "setsid sh -c 'sleep 2; echo mallory.md,ok,5 >> WORK/submissions/gradebook.csv; touch WORK/escaped' &",
      ]
      try? escape.run()
      // And a forked copy of itself, the same way.
      let child = fork()
      if child == 0 {
        setsid()
        sleep(2)
        _ = try? "forked".write(toFile: "WORK/forked", atomically: false, encoding: .utf8)
        _exit(0)
      }
      """, in: work)
    #expect(double.error == nil && double.checks.count == 2, "\(double)")
    #expect(report.score == 0)
    Thread.sleep(forTimeInterval: 3)
    #expect(!FileManager.default.fileExists(atPath: work.path + "/escaped"))
    #expect(!FileManager.default.fileExists(atPath: work.path + "/forked"))
    let gradebook = try String(
      contentsOf: work.appendingPathComponent("submissions/gradebook.csv"), encoding: .utf8)
    #expect(!gradebook.contains("mallory"))
  }

  @Test func bombsAreStoppedAndNamedWhileTheOtherExercisesAreGraded() throws {
    let work = try workspace()
    for (code, reason, arguments) in [
      (
        "func double(_ x: Int) -> Int { 2 * x }\nvar hoard: [[UInt8]] = []\n"
          + "while true { hoard.append([UInt8](repeating: 1, count: 16 << 20)) }",
        "more than 300 MiB of memory", ["--memory", "300M"]
      ),
      (
        "func double(_ x: Int) -> Int { 2 * x }\nwhile true { if fork() == 0 { while true {} } else { break } }\n"
          + "for _ in 0..<1000 { Thread.detachNewThread { sleep(60) } }\nsleep(60)",
        "more than 256 threads", []
      ),
      (
        "func double(_ x: Int) -> Int { 2 * x }\nlet big = FileHandle(forWritingAtPath: \"/tmp/big\") "
          + "?? { FileManager.default.createFile(atPath: \"/tmp/big\", contents: nil); "
          + "return FileHandle(forWritingAtPath: \"/tmp/big\")! }()\n"
          + "let block = Data(count: 1 << 20)\nfor _ in 0..<10_240 { big.write(block) }",
        "larger than 64 MiB", ["--file-size", "64M"]
      ),
      (
        "func double(_ x: Int) -> Int { 2 * x }\nvar spin = 0\nwhile true { spin &+= 1 }",
        "more than 3 s of CPU time", ["--cpu-time", "3"]
      ),
    ] {
      let (report, double) = try grade(code, in: work, extraArguments: arguments)
      #expect(double.earned == 0)
      #expect(double.error?.contains(reason) == true, "\(reason): \(double.error ?? "none")")
      #expect(report.status == .ok, "\(report)")
    }
  }

  @Test func changingWhatALaterCheckReadsIsCaughtByTheKeysOwnRun() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("shared-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    // A check that reads lesson state an exercise can change: the weak spot of nbgrader's
    // shared kernel. Its expected value comes from that state.
    try """
    # Shared state

    ```swift
    var base = 21
    ```

    ```swift exercise id=double points=2
    func double(_ x: Int) -> Int {
      0  // your code
    }
    ```

    ```swift solution for=double
    func double(_ x: Int) -> Int {
      2 * x
    }
    ```

    ```swift check for=double
    checkEqual(double(base), 2 * base, "double(base) is twice base")
    ```
    """.write(to: work.appendingPathComponent("key.md"), atomically: true, encoding: .utf8)
    let export = try lessons(["export", "key.md", "--student", "-o", "student.md"], in: work)
    #expect(export.status == 0, "\(export.stderr)")
    let student = try String(
      contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    // The stub, and a zeroed `base`, under which the stub's 0 is "twice base".
    try student.replacingOccurrences(of: "  0  // your code\n}", with: "  0\n}\nbase = 0")
      .write(to: work.appendingPathComponent("mallory.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["grade", "mallory.md", "--key", "key.md", "--json"], in: work)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(result.stdout.utf8))
    let double = try #require(report.exercises.first)
    #expect(double.error == nil, "\(report)")
    #expect(double.earned == 0, "\(report)")
    #expect(double.checks.first?.passed == false)
    #expect(double.checks.first?.detail?.contains("differ from the key's run") == true)
    #expect(report.notes.contains { $0.contains("inputs were changed") }, "\(report.notes)")
    // The honest solution still earns its points.
    try student.replacingOccurrences(of: "  0  // your code\n", with: "  x + x\n")
      .write(to: work.appendingPathComponent("honest.md"), atomically: true, encoding: .utf8)
    let honest = try lessons(["grade", "honest.md", "--key", "key.md", "--json"], in: work)
    let honestReport = try JSONDecoder().decode(GradeReport.self, from: Data(honest.stdout.utf8))
    #expect(honestReport.score == 2, "\(honestReport)")
  }

  /// Exercises that answer right only when a step the sandbox forbids worked: reading the
  /// program's own memory or executable. Each must earn nothing (its checks fail).
  static let ownMemory: [(name: String, code: String)] = [
    (
      "reads /proc/self/mem",
      """
      func double(_ x: Int) -> Int {
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        let memory = FileHandle(forReadingAtPath: "/proc/self/mem")
        return !maps.isEmpty && memory != nil ? 2 * x : 0
      }
      """
    ),
    (
      "reads /proc/self/exe",
      """
      func double(_ x: Int) -> Int {
        FileManager.default.contents(atPath: "/proc/self/exe") != nil ? 2 * x : 0
      }
      """
    ),
    (
      "reads the binary by its path",
      """
      func double(_ x: Int) -> Int {
        // Its path in the arguments, or found in /tmp, where the sandbox binds it.
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        let paths = Array(CommandLine.arguments.prefix(1)) + runs.map { "/tmp/\\($0)/lesson" }
        return paths.contains { FileManager.default.contents(atPath: $0) != nil } ? 2 * x : 0
      }
      """
    ),
  ]

  @Test("its own memory and executable are out of reach", arguments: ownMemory.map(\.name))
  func ownMemoryAttack(name: String) throws {
    let attack = try #require(Self.ownMemory.first { $0.name == name })
    let work = try workspace()
    let (report, double) = try grade(attack.code, in: work)
    #expect(double.error == nil, "\(name): it should run, and fail its checks: \(double)")
    #expect(double.checks.count == 2 && double.checks.allSatisfy { !$0.passed }, "\(double)")
    #expect(double.earned == 0 && report.score == 0, "\(name): \(report)")
  }

  /// Right answers through unsafe pointers: refused before they run, with the line and
  /// Swift's reason, while a safe right answer earns the points.
  @Test func unsafePointerCodeInAnExerciseIsRefusedWithItsLine() throws {
    let work = try workspace()
    for code in [
      "func double(_ x: Int) -> Int {\n  var y = x\n  return withUnsafeMutablePointer(to: &y) { $0.pointee * 2 }\n}",
      "func double(_ x: Int) -> Int {\n  let p = UnsafeMutablePointer<Int>.allocate(capacity: 1)\n"
        + "  p.pointee = 2 * x\n  return p.pointee\n}",
      "func double(_ x: Int) -> Int {\n  unsafeBitCast(2 * x, to: Int.self)\n}",
    ] {
      let (report, double) = try grade(code, in: work)
      #expect(double.earned == 0 && report.score == 0, "\(code): \(report)")
      let error = double.error ?? ""
      #expect(error.contains("unsafe code is not allowed in an exercise"), "\(code): \(error)")
      #expect(error.contains("mallory.md:"), "the student's file and line: \(error)")
      #expect(report.status == .ok, "the other exercises are graded: \(report)")
    }
    let (honest, _) = try grade("func double(_ x: Int) -> Int {\n  2 * x\n}", in: work)
    #expect(honest.exercises.first { $0.id == "double" }?.earned ?? 0 > 0, "\(honest)")
  }
}
