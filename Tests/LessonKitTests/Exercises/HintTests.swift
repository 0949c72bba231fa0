import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// Hints: a check's `hint:` shown only when it fails, and an exercise's hint blocks
/// revealed one at a time, folded in pages and hand-outs.
@Suite("hints")
struct HintTests {
  static let lesson = """
    # Hints

    ```swift exercise id=double
    func double(_ x: Int) -> Int { x }
    ```

    ```hint for=double
    Doubling is adding a number to itself.
    ```

    ```hint for=double
    `x * 2`, or `x + x`.
    ```

    ```swift check for=double
    checkEqual(double(2), 4, "double(2) is 4", hint: "multiply by two, not by one")
    check(double(0) == 0, "double(0) is 0", hint: "a passing check keeps its hint to itself")
    ```
    """

  private func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hints-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try Self.lesson.write(
      to: url.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    return url
  }

  @Test func aChecksHintShowsOnlyWhenItFails() throws {
    let work = try folder()
    defer { try? FileManager.default.removeItem(at: work) }
    let terminal = try lessons(["run", "lesson.md"], in: work)
    #expect(terminal.status == 1)
    #expect(
      terminal.stdout.contains(
        "✗ double(2) is 4 — got 2, expected 4\n  hint: multiply by two, not by one\n"))
    #expect(!terminal.stdout.contains("hint: a passing check"), "\(terminal.stdout)")
    let json = try lessons(["run", "lesson.md", "--json"], in: work)
    struct Document: Decodable {
      struct Cell: Decodable { var events: [RuntimeEvent] }
      var cells: [Cell]
    }
    let document = try EventJSON.decoder().decode(Document.self, from: Data(json.stdout.utf8))
    let checks = document.cells.flatMap(\.events).compactMap { event -> Check? in
      if case .check(let check) = event { return check } else { return nil }
    }
    #expect(checks.map(\.hint) == ["multiply by two, not by one", nil])
    // The grader's report and feedback carry it too, for a visible check that failed.
    let graded = try lessons(["grade", "lesson.md", "--json", "--no-sandbox"], in: work)
    #expect(
      graded.stdout.contains("\"hint\" : \"multiply by two, not by one\""), "\(graded.stdout)")
    #expect(!graded.stdout.contains("keeps its hint"))
  }

  @Test func hintBlocksParseAndNameTheirExercise() throws {
    let lesson = try Lesson(parsing: Self.lesson, path: "lesson.md")
    #expect(lesson.hints(for: "double").map(\.fenceLine) == [7, 11])
    #expect(lesson.hints(for: "double").compactMap { lesson.hintNumber(of: $0) } == [1, 2])
    #expect(!lesson.executableCells.contains { if case .hint = $0.role { true } else { false } })
    #expect(
      throws: LessonError(file: "x.md", line: 1, "a hint block takes one attribute, for=EXERCISE")
    ) {
      try Lesson(parsing: "```hint\nsome text\n```\n", path: "x.md")
    }
    #expect(throws: LessonError.self) {
      try Lesson(parsing: "```hint for=nothing\ntext\n```\n", path: "x.md")
    }
  }

  @Test func lessonsHintRevealsTheNextHintAndRemembers() throws {
    let work = try folder()
    defer { try? FileManager.default.removeItem(at: work) }
    let cache = ["XDG_CACHE_HOME": work.appendingPathComponent("cache").path]
    let list = try lessons(["hint", "lesson.md"], in: work, environment: cache)
    #expect(list.stdout == "double: 0 of 2 hints shown\n")
    let first = try lessons(["hint", "lesson.md", "double"], in: work, environment: cache)
    #expect(first.status == 0)
    #expect(
      first.stdout.contains("Hint 1 of 2") && first.stdout.contains("adding a number to itself"))
    #expect(!first.stdout.contains("x + x"))
    let second = try lessons(["hint", "lesson.md", "double"], in: work, environment: cache)
    #expect(second.stdout.contains("Hint 2 of 2") && second.stdout.contains("`x * 2`, or `x + x`."))
    #expect(second.stdout.contains("That was the last hint."))
    let again = try lessons(["hint", "lesson.md", "double"], in: work, environment: cache)
    #expect(again.stdout.contains("Hint 2 of 2") && again.stdout.contains("(shown again)"))
    #expect(
      try lessons(["hint", "lesson.md"], in: work, environment: cache).stdout
        == "double: 2 of 2 hints shown\n")
    _ = try lessons(["hint", "lesson.md", "double", "--reset"], in: work, environment: cache)
    #expect(
      try lessons(["hint", "lesson.md", "double"], in: work, environment: cache).stdout
        .contains("Hint 1 of 2"))
    let unknown = try lessons(["hint", "lesson.md", "triple"], in: work, environment: cache)
    #expect(unknown.status == 2)
    #expect(unknown.stderr.contains("lesson.md: error: no exercise 'triple'; exercises: double"))
  }

  @Test func handOutsAndPagesFoldTheHints() throws {
    let lesson = try Lesson(parsing: Self.lesson, path: "lesson.md")
    let handOut = studentVersion(of: lesson)
    #expect(
      handOut.contains(
        "<details><summary>Hint 1 for <code>double</code></summary>\n\n```hint for=double\n"))
    #expect(handOut.contains("`x * 2`, or `x + x`.\n```\n\n</details>"))
    // The hand-out still holds its hints for `lessons hint`, and folds them only once.
    let reparsed = try Lesson(parsing: handOut, path: "student.md")
    #expect(reparsed.hints(for: "double").count == 2)
    let twice = studentVersion(of: reparsed)
    #expect(twice.components(separatedBy: "<details>").count == 3)
    let page = renderHTML(
      lesson, .ran(lesson, RunResult(status: .finished, cells: [], seconds: 0)), typesetter: nil)
    #expect(
      page.html.contains(
        "<details class=\"hint\" id=\"line-7\"><summary>Hint 1 for <code>double</code></summary>"))
    #expect(page.html.contains("<p>Doubling is adding a number to itself.</p>"))
    #expect(!page.html.contains("<details class=\"hint\" open"))
  }
}
