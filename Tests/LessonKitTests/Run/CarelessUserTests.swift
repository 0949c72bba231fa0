import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// What a careless user does to a running lesson, through the built `lessons` command. A
/// cell that edits its own lesson file stands in for the author saving while it runs: the
/// edit lands on disk mid-run, deterministically.
@Suite("Nothing lost: edits during --write, symlinks, bad destinations")
struct CarelessUserTests {
  private func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("careless-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func aParagraphAddedDuringTheRunIsKeptAndTheOutputsMerged() throws {
    let work = try folder()
    let lesson = work.appendingPathComponent("lesson.md")
    try """
    # Edited while running

    ```swift
    print("first")
    ```

    ```swift
    // The author saves a new paragraph (and a shown-only block) while this runs.
    let url = URL(fileURLWithPath: "lesson.md")
    var text = try String(contentsOf: url, encoding: .utf8)
    text = text.replacingOccurrences(of: "# Edited while running\\n", with: "# Edited while running\\n\\nA paragraph written during the run.\\n\\n```python\\nprint('shown only')\\n```\\n")
    try text.write(to: url, atomically: true, encoding: .utf8)
    print("second")
    ```
    """.write(to: lesson, atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md", "--write"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    let text = try String(contentsOf: lesson, encoding: .utf8)
    #expect(text.contains("A paragraph written during the run."))
    #expect(text.contains("print('shown only')"))
    #expect(text.contains("```output\nfirst\n```"))
    #expect(text.contains("```output\nsecond\n```"))
  }

  @Test func aCellEditedDuringTheRunWritesNothingAndSaysWhich() throws {
    let work = try folder()
    let lesson = work.appendingPathComponent("lesson.md")
    try """
    # Edited while running

    ```swift
    let url = URL(fileURLWithPath: "lesson.md")
    let text = try String(contentsOf: url, encoding: .utf8)
    try text.replacingOccurrences(of: "print(\\"old\\")", with: "print(\\"new\\")")
      .write(to: url, atomically: true, encoding: .utf8)
    ```

    ```swift
    print("old")
    ```
    """.write(to: lesson, atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md", "--write"], in: work)
    #expect(result.status == 2)
    #expect(result.stderr.contains("lesson.md:10: error: this cell changed while the lesson ran"))
    let text = try String(contentsOf: lesson, encoding: .utf8)
    #expect(text.contains("print(\"new\")"), "the author's edit is kept")
    #expect(!text.contains("```output"), "no stale output was written")
  }

  @Test func aSymlinkedLessonRunsBesideItsTargetAndStaysALink() throws {
    let work = try folder()
    let real = work.appendingPathComponent("course")
    try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
    try "Shakespeare".write(
      to: real.appendingPathComponent("data.txt"), atomically: true, encoding: .utf8)
    try """
    # Reads a file beside it

    ```swift
    print(try String(contentsOfFile: "data.txt", encoding: .utf8))
    ```
    """.write(to: real.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let link = work.appendingPathComponent("link.md")
    try FileManager.default.createSymbolicLink(
      at: link, withDestinationURL: real.appendingPathComponent("lesson.md"))

    let result = try lessons(["run", "link.md", "--write"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("Shakespeare"))
    let attributes = try FileManager.default.attributesOfItem(atPath: link.path)
    #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink, "--write kept the link")
    let text = try String(contentsOf: real.appendingPathComponent("lesson.md"), encoding: .utf8)
    #expect(text.contains("```output\nShakespeare\n```"))
  }

  @Test func anUnwritableDestinationFailsBeforeTheLessonRuns() throws {
    let work = try folder()
    try """
    # Leaves a trace when it runs

    ```swift
    FileManager.default.createFile(atPath: "ran", contents: nil)
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    for (arguments, words) in [
      (["--html", "-o", "missing/page.html"], "the folder missing does not exist"),
      (["--html", "-o", "."], "is a folder"),
      (["--student", "-o", "missing/student.md"], "the folder missing does not exist"),
    ] {
      let result = try lessons(["export", "lesson.md"] + arguments, in: work)
      #expect(result.status == 2)
      #expect(result.stderr.contains(words), "\(result.stderr)")
      #expect(!result.stderr.contains("NSCocoaErrorDomain"))
    }
    #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("ran").path))
  }

  @Test func aNegativeTimeoutIsExplained() throws {
    let work = try folder()
    try "# Empty\n".write(
      to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    for command in [["run", "lesson.md"], ["export", "lesson.md", "--html"]] {
      let result = try lessons(command + ["--timeout", "-1"], in: work)
      #expect(result.status == 2)
      #expect(result.stderr.contains("--timeout must be a positive number"), "\(result.stderr)")
    }
  }

  @Test func aCrashDropsOnlyTheRuntimesRepeatedLine() throws {
    let work = try folder()
    try """
    # Writes to standard error, then crashes

    ```swift
    FileHandle.standardError.write("e\\n".data(using: .utf8)!)
    print([1, 2, 3][5])
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md"], in: work)
    #expect(result.status == 2)
    #expect(result.stdout.contains("\ne\n"), "the cell's own line is kept: \(result.stdout)")
    #expect(result.stdout.components(separatedBy: "Fatal error: Index out of range").count == 2)
  }

  @Test(.enabled(if: hasProc, "reads /proc"))
  func aBackgroundProcessDoesNotOutliveTheLesson() throws {
    let work = try folder()
    let seconds = "9\(Int.random(in: 100...999))"
    try """
    # Starts a process in the background

    ```swift
    system("sleep \(seconds) &")
    print("started")
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(processes(withCommandLine: ["sleep", seconds]).isEmpty, "sleep \(seconds) survived")
  }

  /// A process that leaves the lesson's process group and session (`setsid`) still ends
  /// with the run: it is the runner's orphan, and the runner stops it. Before, it touched
  /// its file after `lessons run` had returned.
  @Test(.enabled(if: hasProc, "reads /proc"))
  func aProcessInASessionOfItsOwnDoesNotOutliveTheLesson() throws {
    let work = try folder()
    let seconds = "8\(Int.random(in: 100...999))"
    let marker = work.appendingPathComponent("written-after-the-run").path
    try """
    # Starts a process that leaves the lesson's group

    ```swift
    _ = system("setsid sh -c 'sleep 1; touch \(marker)' &")
    _ = system("setsid sleep \(seconds) &")
    print("started")
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(processes(withCommandLine: ["sleep", seconds]).isEmpty, "sleep \(seconds) survived")
    Thread.sleep(forTimeInterval: 2)
    #expect(!FileManager.default.fileExists(atPath: marker), "a process wrote after the run")
  }

  @Test(.enabled(if: hasProc, "reads /proc"))
  func aLessonProgramDiesWithItsRunner() throws {
    let work = try folder()
    let runner = try startLoopingLesson(in: work)
    let program = try #require(
      Int32(try String(contentsOf: work.appendingPathComponent("pid"), encoding: .utf8)),
      "the lesson never started")
    kill(runner.processIdentifier, SIGKILL)
    runner.waitUntilExit()
    let killed = Date()
    while isAlive(program), Date().timeIntervalSince(killed) < 10 { usleep(50_000) }
    #expect(!isAlive(program), "the lesson program kept running after its runner was killed")
  }
}

extension CarelessUserTests {
  /// The runner killed with SIGKILL, be it `run`, `watch` or `serve` (each the lesson
  /// program's parent): what the lesson started in a session of its own ends too. Before,
  /// the lesson program ended its own group, and a `setsid` process went on to write its file.
  @Test(.enabled(if: hasProc, "reads /proc"), arguments: ["run", "watch", "serve"])
  func aProcessInASessionOfItsOwnDiesWithAKilledRunner(_ command: String) throws {
    let work = try folder()
    let seconds = "7\(Int.random(in: 100...999))"
    let marker = work.appendingPathComponent("written-after-the-kill").path
    let arguments =
      switch command {
      case "run": ["run", "lesson.md", "--timeout", "120"]
      case "watch": ["watch", "lesson.md"]
      default: ["serve", "lesson.md", "--port", "\(Int.random(in: 20_000..<60_000))"]
      }
    let runner = try startLoopingLesson(
      in: work, command: arguments,
      first: """
        _ = system("setsid sh -c 'sleep 3; touch \(marker)' &")
        _ = system("setsid sleep \(seconds) &")
        """)
    defer { if runner.isRunning { kill(runner.processIdentifier, SIGKILL) } }
    // `system` returns once `sh` has put the job in the background, perhaps before `setsid`
    // has become `sleep`.
    let started = Date()
    while processes(withCommandLine: ["sleep", seconds]).isEmpty,
      Date().timeIntervalSince(started) < 10
    {
      usleep(50_000)
    }
    #expect(!processes(withCommandLine: ["sleep", seconds]).isEmpty, "the lesson never got going")
    kill(runner.processIdentifier, SIGKILL)
    runner.waitUntilExit()
    Thread.sleep(forTimeInterval: 4)
    #expect(processes(withCommandLine: ["sleep", seconds]).isEmpty, "sleep \(seconds) survived")
    #expect(!FileManager.default.fileExists(atPath: marker), "a process wrote after the kill")
  }

  /// Under `watch`, a run that ends ends what it started, while `watch` goes on waiting for
  /// the next save.
  @Test(.enabled(if: hasProc, "reads /proc"))
  func aWatchedRunEndsWhatItStarted() throws {
    let work = try folder()
    let seconds = "5\(Int.random(in: 100...999))"
    try """
    # Starts a process that leaves the lesson's group, and ends

    ```swift
    _ = system("setsid sleep \(seconds) &")
    try "done".write(toFile: "pid", atomically: true, encoding: .utf8)
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let watcher = Process()
    watcher.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
      .deletingLastPathComponent().appendingPathComponent("lessons")
    watcher.arguments = ["watch", "lesson.md"]
    watcher.currentDirectoryURL = work
    watcher.standardOutput = FileHandle.nullDevice
    watcher.standardError = FileHandle.nullDevice
    try watcher.run()
    defer {
      kill(watcher.processIdentifier, SIGKILL)
      watcher.waitUntilExit()
    }
    let started = Date()
    let marker = work.appendingPathComponent("pid").path
    while !FileManager.default.fileExists(atPath: marker), Date().timeIntervalSince(started) < 60 {
      usleep(50_000)
    }
    #expect(FileManager.default.fileExists(atPath: marker), "the lesson never ran")
    let ended = Date()
    while !processes(withCommandLine: ["sleep", seconds]).isEmpty,
      Date().timeIntervalSince(ended) < 10
    {
      usleep(100_000)
    }
    #expect(watcher.isRunning, "watch stopped after one run")
    #expect(
      processes(withCommandLine: ["sleep", seconds]).isEmpty, "sleep \(seconds) outlived its run")
  }

  /// A lesson saved by a Windows editor runs, and `--write` keeps its `\r\n` endings; a file
  /// that mixes both kinds is run but not written.
  @Test func windowsLineEndingsRunAndAreKeptByWrite() throws {
    let work = try folder()
    let lesson = work.appendingPathComponent("lesson.md")
    let text = "# Windows\r\n\r\n```swift\r\nprint(\"hi\")\r\n```\r\n\r\nThe end.\r\n"
    try text.write(to: lesson, atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md", "--write"], in: work)
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let written = try String(contentsOf: lesson, encoding: .utf8)
    #expect(
      written
        == "# Windows\r\n\r\n```swift\r\nprint(\"hi\")\r\n```\r\n\r\n```output\r\nhi\r\n```\r\n\r\nThe end.\r\n"
    )
    let mixed = text + "A line with a Unix ending.\n"
    try mixed.write(to: lesson, atomically: true, encoding: .utf8)
    let refused = try lessons(["run", "lesson.md", "--write"], in: work)
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("mixes \\n and \\r\\n line endings"), "\(refused.stderr)")
    #expect(try String(contentsOf: lesson, encoding: .utf8) == mixed)
  }

  @Test(.enabled(if: hasProc, "reads /proc"))
  func aLessonOverItsMemoryLimitIsStoppedWithAMessage() throws {
    let work = try folder()
    try """
    # Grows without end

    ```swift
    print("before")
    ```

    ```swift
    var blocks: [[Float]] = []
    for _ in 0..<200 { blocks.append([Float](repeating: 1, count: 5_000_000)); usleep(10_000) }
    print(blocks.count)
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md", "--memory", "200M"], in: work)
    #expect(result.status == 2)
    #expect(result.stdout.contains("before"))
    #expect(
      result.stdout.contains("stopped after using more than 200 MiB of memory (the --memory limit"),
      "\(result.stdout)")
    #expect(!result.stdout.contains("\n2 cells run · 0 checks passed · finished"))
    let json = try lessons(["run", "lesson.md", "--memory", "200M", "--json"], in: work)
    #expect(json.stdout.contains("\"line\" : 7"), "the error names the cell: \(json.stdout)")
    let bad = try lessons(["run", "lesson.md", "--memory", "lots"], in: work)
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("'lots' is invalid for '--memory <SIZE>'"), "\(bad.stderr)")
  }

  /// A safetensors header whose shape overflows the element count, loaded as a learner would:
  /// a clear error naming the file and the tensor, never a trap without a message.
  @Test func aSafetensorsShapeThatOverflowsIsAnErrorNotATrap() throws {
    let work = try folder()
    try """
    # A hostile checkpoint

    ```swift
    let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
    var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Data($0) }
    bytes += Data(header.utf8) + Data(count: 16)
    try bytes.write(to: URL(fileURLWithPath: "overflow.safetensors"))
    let model = Linear(4, 4)
    do {
      try model.loadWeights(from: URL(fileURLWithPath: "overflow.safetensors"))
    } catch {
      print("refused: \\(error)")
    }
    try model.loadWeights(from: URL(fileURLWithPath: "overflow.safetensors"))
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md"], in: work)
    #expect(result.status == 2)
    #expect(
      result.stdout.contains(
        "overflow.safetensors gives tensor 'w' shape [4611686018427387904, 4], whose size "
          + "overflows; the file is corrupt"), "\(result.stdout)")
    // Thrown at the top level, the same message is the crash's reason.
    #expect(result.stdout.contains("✗ crashed: a Swift runtime error: "))
    #expect(result.stdout.contains("Error raised at top level: \(work.path)/overflow.safetensors"))
    #expect(result.stdout.components(separatedBy: "whose size overflows").count == 3)
  }

  @Test func anInterruptedRunLeavesNoRunFolder() throws {
    let work = try folder()
    let temporary = work.appendingPathComponent("tmp")
    try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    let runner = try startLoopingLesson(in: work, environment: ["TMPDIR": temporary.path])
    let during = try FileManager.default.contentsOfDirectory(atPath: temporary.path)
    #expect(during.contains { $0.hasPrefix("lessons-run-") }, "\(during)")
    kill(runner.processIdentifier, SIGINT)
    runner.waitUntilExit()
    #expect(runner.terminationStatus == 128 + SIGINT)
    let after = try FileManager.default.contentsOfDirectory(atPath: temporary.path)
    #expect(!after.contains { $0.hasPrefix("lessons-run-") }, "left behind: \(after)")
  }
}

/// Starts `lessons run` on a lesson that writes its pid to `pid` and then loops until it
/// is stopped, and returns the runner once the lesson has started (or 60 s have passed).
/// Starts `lessons run` on a lesson that runs `first`, writes its pid to `pid`, then loops
/// until stopped; returns the runner once the pid is there.
private func startLoopingLesson(
  in work: URL, command: [String] = ["run", "lesson.md", "--timeout", "120"],
  environment: [String: String] = [:], first: String = ""
) throws -> Process {
  try """
  # Runs until stopped

  ```swift
  \(first)
  try "\\(getpid())".write(toFile: "pid", atomically: true, encoding: .utf8)
  while true { usleep(10_000) }
  ```
  """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
  let runner = Process()
  runner.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    .deletingLastPathComponent().appendingPathComponent("lessons")
  runner.arguments = command
  runner.currentDirectoryURL = work
  runner.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  runner.standardOutput = FileHandle.nullDevice
  runner.standardError = FileHandle.nullDevice
  try runner.run()
  let marker = work.appendingPathComponent("pid").path
  let started = Date()
  while !FileManager.default.fileExists(atPath: marker), Date().timeIntervalSince(started) < 60 {
    usleep(50_000)
  }
  return runner
}

/// Whether this system has Linux's /proc, which the process tests read.
private let hasProc = FileManager.default.fileExists(atPath: "/proc/self/stat")

/// The processes whose command line is exactly `arguments`, alive (not zombies).
private func processes(withCommandLine arguments: [String]) -> [Int32] {
  let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  return entries.compactMap(Int32.init).filter { pid in
    guard isAlive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
    else { return false }
    let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    return parts == arguments
  }
}

/// Whether `pid` is a running process: it exists and is not a zombie waiting to be reaped.
private func isAlive(_ pid: Int32) -> Bool {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return false }
  return stat[stat.index(close, offsetBy: 2)] != "Z"
}
