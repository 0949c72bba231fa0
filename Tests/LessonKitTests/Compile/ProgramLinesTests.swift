import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// The program numbers its lines per cell, so that prose edits leave it compiled; every line
/// it or the compiler reports is the lesson's.
@Suite("The program's lines")
struct ProgramLinesTests {
  static let lesson = """
    # Lines

    Some prose.

    ```swift
    let a = 1
    check(a == 2, "a is 2")
    ```

    ```swift
    let xs = [1]
    print(xs[3])
    ```
    """

  @Test func aProseEditLeavesTheProgramsTextAsItWas() throws {
    let before = Program(try Lesson(parsing: Self.lesson, path: "l.md"))
    let moved = Self.lesson.replacingOccurrences(
      of: "Some prose.", with: "Some prose,\nnow over\nthree lines.")
    let after = Program(try Lesson(parsing: moved, path: "l.md"))
    #expect(before.source == after.source)
    #expect(before.cells.map(\.line) != after.cells.map(\.line))
    // Back to the lesson: the second cell's second line is the lesson's line 12 (14 after).
    let line = Program.virtualLine(cell: 1) + 1
    #expect(before.lessonLine(line) == 12 && after.lessonLine(line) == 14)
    #expect(
      after.rewritingLines(in: "Lesson/l.md:\(line): Fatal error: x\nl.md:\(line):5: error: y")
        == "l.md:14: Fatal error: x\nl.md:14:5: error: y")
    #expect(after.rewritingLines(in: "other.md:\(line): z") == "other.md:\(line): z")
    // A runtime error names the file by its last component after the module (`#fileID`),
    // also when the lesson was read from a path, as the grader reads a submission.
    let graded = Program(try Lesson(parsing: moved, path: "/tmp/work/l.md"))
    #expect(
      graded.rewritingLines(in: "crashed: Lesson/l.md:\(line): Fatal error: x")
        == "crashed: /tmp/work/l.md:14: Fatal error: x")
    #expect(
      graded.rewritingLines(in: "/elsewhere/Lesson/l.md:\(line): y")
        == "/elsewhere/Lesson/l.md:\(line): y", "not inside another path")
  }

  @Test func checksCrashesAndCompileErrorsNameTheLessonsLines() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let file = work.appendingPathComponent("l.md")
    try Self.lesson.write(to: file, atomically: true, encoding: .utf8)
    let first = try lessons(["run", "l.md", "--json"], in: work)
    #expect(first.stdout.contains("\"line\" : 7,"), "the check's line: \(first.stdout)")
    // Moved by a prose edit, run from the compiled program: the lines follow the lesson.
    try Self.lesson.replacingOccurrences(of: "Some prose.", with: "Some prose,\nover two lines.")
      .write(to: file, atomically: true, encoding: .utf8)
    let moved = try lessons(["run", "l.md", "--json"], in: work)
    #expect(moved.stdout.contains("\"line\" : 8,"), "the check's line: \(moved.stdout)")
    try """
    # F

    prose

    ```swift
    fatalError("boom")
    ```

    ```swift
    let b: Int = "x"
    ```
    """.write(to: work.appendingPathComponent("f.md"), atomically: true, encoding: .utf8)
    let broken = try lessons(["run", "f.md"], in: work)
    #expect(broken.stderr.contains("f.md:10:14: error"), "\(broken.stderr)")
    try """
    # F

    prose

    ```swift
    fatalError("boom")
    ```
    """.write(to: work.appendingPathComponent("f.md"), atomically: true, encoding: .utf8)
    let crashed = try lessons(["run", "f.md"], in: work)
    #expect(crashed.stdout.contains("f.md:6: Fatal error: boom"), "\(crashed.stdout)")
  }
}
