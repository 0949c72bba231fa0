import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// Outputs as they happen: on a terminal each cell shows while the lesson runs, and
/// `--events` streams what it does as JSON Lines.
@Suite("live output")
struct LiveOutputTests {
  private func folder(with lesson: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("live-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try lesson.write(to: url.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    return url
  }

  /// Three cells: the first prints at once, the second waits two seconds, the third prints.
  static let slowLesson = """
    # Slow

    ```swift
    print("first cell")
    ```

    ```swift
    usleep(2_000_000)
    ```

    ```swift
    print("last cell")
    ```
    """

  @Test func onATerminalTheFirstCellsOutputArrivesBeforeTheLastCellStarts() throws {
    let work = try folder(with: Self.slowLesson)
    defer { try? FileManager.default.removeItem(at: work) }
    // Compiled once first, so that the timed run does not wait for the compiler.
    #expect(try lessons(["run", "lesson.md"], in: work).status == 0)
    let chunks = try runOnTerminal(["run", "lesson.md"], in: work)
    let text = chunks.map(\.text).joined()
    #expect(text.contains("first cell") && text.contains("last cell"), "\(text)")
    func arrival(_ needle: String) -> Double? {
      var seen = ""
      for chunk in chunks {
        seen += chunk.text
        if seen.contains(needle) { return chunk.seconds }
      }
      return nil
    }
    let first = try #require(arrival("first cell"))
    let last = try #require(arrival("last cell"))
    #expect(last - first > 1.5, "the first cell showed at \(first) s, the last at \(last) s")
  }

  /// The same lesson on a terminal and into a pipe says the same, but for the time.
  @Test func theLiveReportMatchesThePipedOne() throws {
    let work = try folder(
      with: """
        # Parity

        ```swift
        print("one", terminator: "")
        checkEqual(2 + 2, 4, "arithmetic")
        table([[1, 2]], headers: ["a", "b"])
        ```

        ```swift hidden
        let secret = 42
        ```

        ```swift
        FileHandle.standardError.write("a warning\\n".data(using: .utf8)!)
        plot([Series("loss", [3, 2, 1])], title: "Loss")
        print("after the plot")
        ```

        ```swift
        for step in progress(0..<5, label: "fit") {
          if step == 2 { print("halfway") }
          usleep(30_000)
        }
        print("done")
        ```

        ```swift
        print("about to fail")
        let values = [1, 2, 3]
        print(values[secret])
        ```
        """)
    defer { try? FileManager.default.removeItem(at: work) }
    let piped = try lessons(["run", "lesson.md"], in: work)
    #expect(piped.status == 2)
    let live = try runOnTerminal(["run", "lesson.md"], in: work).map(\.text).joined()
    func normalized(_ text: String) -> String {
      text
        // The live bar, drawn in place on the same terminal, and the codes that clear it.
        .replacingOccurrences(
          of: "\r\u{1B}\\[K[^\r\n]*[█░][^\r\n]*(?=\r\u{1B}\\[K)", with: "",
          options: .regularExpression
        )
        .replacingOccurrences(of: "\r\u{1B}[K", with: "")
        .replacingOccurrences(of: "\r", with: "")
        .replacingOccurrences(
          of: #"· [0-9.]+ s( · [0-9.]+/s)?"#, with: "· TIME", options: .regularExpression)
    }
    #expect(normalized(live) == normalized(piped.stdout), "live:\n\(live)\npiped:\n\(piped.stdout)")
    #expect(live.contains("about to fail") && live.contains("✗ crashed: a Swift runtime error"))
  }

  @Test func eventsStreamWhatTheLessonDoesAndACrashLandsInItsCell() throws {
    let work = try folder(
      with: """
        # Stream

        ```swift
        print("hello")
        check(true, "it holds")
        for _ in progress(0..<3, label: "steps") {}
        ```

        ```swift
        print("before the crash")
        let values: [Int] = []
        print(values[1])
        ```
        """)
    defer { try? FileManager.default.removeItem(at: work) }
    let result = try lessons(["run", "lesson.md", "--events"], in: work)
    #expect(result.status == 2)
    let objects = try result.stdout.split(separator: "\n").map {
      try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    let kinds = objects.map { $0["kind"] as? String ?? "?" }
    // A progress bar reports as often as it likes: its updates aside, the order is fixed.
    #expect(
      kinds.filter { $0 != "progress" } == [
        "cellStarted", "output", "check", "cellFinished", "cellStarted", "output", "output",
        "cellFinished", "runFinished",
      ], "\(kinds)")
    let bar = try #require(objects.last { $0["kind"] as? String == "progress" })
    #expect(bar["done"] as? Int == 3 && bar["total"] as? Int == 3 && bar["cell"] as? Int == 1)
    let outputs = objects.filter { $0["kind"] as? String == "output" }
    #expect(outputs.first?["text"] as? String == "hello\n")
    #expect(outputs.first?["cell"] as? Int == 1)
    let crash = try #require(
      outputs.first { ($0["text"] as? String)?.contains("before the crash") == true })
    #expect(crash["cell"] as? Int == 2 && crash["stream"] as? String == "stdout")
    // The runtime's message, on standard error, in the same cell, when the cell ends.
    let message = try #require(outputs.last)
    #expect(message["cell"] as? Int == 2 && message["stream"] as? String == "stderr")
    #expect((message["text"] as? String)?.contains("Index out of range") == true)
    let check = try #require(objects.first { $0["kind"] as? String == "check" })
    #expect(check["passed"] as? Bool == true && check["cellLine"] as? Int == 3)
    let finished = try #require(objects.last)
    #expect(finished["status"] as? String == "crashed")
    #expect(finished["exitCode"] as? Int == 2)
    #expect((finished["error"] as? [String: Any])?["cell"] as? Int == 2)
  }

  @Test func aCompileErrorEndsTheStreamWithItsDiagnostics() throws {
    let work = try folder(with: "# Broken\n\n```swift\nlet x: Int = \"text\"\n```\n")
    defer { try? FileManager.default.removeItem(at: work) }
    let result = try lessons(["run", "lesson.md", "--events"], in: work)
    #expect(result.status == 2)
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == 1, "\(result.stdout)")
    let finished = try #require(
      try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    #expect(finished["kind"] as? String == "runFinished")
    #expect(finished["status"] as? String == "compile_error")
    let diagnostic = try #require((finished["diagnostics"] as? [[String: Any]])?.first)
    #expect(diagnostic["line"] as? Int == 4 && diagnostic["severity"] as? String == "error")
  }

  @Test func utf8CutAtAReadIsHeldBackUntilItsCharacterIsWhole() {
    let bytes = Array("a€".utf8)  // € is three bytes
    #expect(completeUTF8Prefix(bytes) == bytes.count)
    #expect(completeUTF8Prefix(Array(bytes.dropLast())) == 1)
    #expect(completeUTF8Prefix(Array(bytes.dropLast(2))) == 1)
    #expect(completeUTF8Prefix(Array("😀".utf8).dropLast().map { $0 }) == 0)
    #expect(completeUTF8Prefix([]) == 0)
  }
}

/// Runs the built `lessons` with standard output and error on a pseudo-terminal (through
/// util-linux's `script`, in Debian's essential set), and returns what it wrote in the
/// chunks it arrived in, each with the seconds since the start.
func runOnTerminal(_ arguments: [String], in folder: URL) throws -> [(
  seconds: Double, text: String
)] {
  let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  let command = ([buildFolder.appendingPathComponent("lessons").path] + arguments)
    .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
  // Quiet, flushed after every write, the command's exit status as its own.
  process.arguments = ["-qfec", command, "/dev/null"]
  process.currentDirectoryURL = folder
  var environment = ProcessInfo.processInfo.environment
  environment["NO_COLOR"] = "1"
  environment["TERM"] = "xterm"
  process.environment = environment
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardInput = FileHandle.nullDevice
  let start = Date()
  try process.run()
  var chunks: [(Double, String)] = []
  let reader = pipe.fileHandleForReading
  while true {
    let data = reader.availableData
    guard !data.isEmpty else { break }
    chunks.append((Date().timeIntervalSince(start), String(decoding: data, as: UTF8.self)))
  }
  process.waitUntilExit()
  return chunks
}
