import Testing

@testable import LessonKit

@Suite("Parsing lessons")
struct ParseTests {
  @Test func cellsAndRoles() throws {
    let text = """
      # LoRA from scratch

      Some prose.

      ```swift
      let x = 1
      ```

      ```swift hidden
      let y = 2
      ```

      ```swift exercise id=forward points=2
      // your code
      ```

      ```swift solution for=forward
      let z = 3
      ```

      ```swift check for=forward hidden
      check(z == 3, "z is 3")
      ```

      ```output
      1
      ```

      ```python
      print(1)
      ```
      """
    let lesson = try Lesson(parsing: text, path: "l.md")
    #expect(lesson.title == "LoRA from scratch")
    #expect(
      lesson.cells.map(\.role) == [
        .code, .hidden, .exercise(id: "forward", points: 2), .solution(exercise: "forward"),
        .check(exercise: "forward", hidden: true), .output, .other,
      ])
    #expect(lesson.cells[0].fenceLine == 5)
    #expect(lesson.cells[0].source == "let x = 1\n")
    #expect(lesson.cells[0].endLine == 7)
    #expect(lesson.executableCells.count == 4)
  }

  @Test(
    "bad info strings name the file and line",
    arguments: [
      ("swift hiden", "unknown cell attribute 'hiden'"),
      ("swift exercise", "an exercise needs id=NAME"),
      ("swift exercise id=a points=x", "points=x is not a whole number"),
      ("swift colour=red", "unknown cell attribute 'colour'"),
      ("swift check for=nothing", "for=nothing names no exercise"),
      ("swift exercise solution id=a", "a cell can be only one of exercise, solution"),
      ("output hidden", "an output block takes no attributes"),
    ])
  func badAttributes(info: String, expected: String) {
    let text = "# T\n\n```\(info)\nlet a = 1\n```\n"
    do {
      _ = try Lesson(parsing: text, path: "bad.md")
      Issue.record("accepted ```\(info)")
    } catch let error as LessonError {
      #expect(error.file == "bad.md")
      #expect(error.line == 3)
      #expect(error.message.contains(expected), "\(error)")
    } catch {
      Issue.record("unexpected \(error)")
    }
  }

  @Test func duplicateExerciseIds() {
    let text = "```swift exercise id=a\n```\n\n```swift exercise id=a\n```\n"
    #expect(throws: LessonError(file: "d.md", line: 4, "exercise id 'a' is already used at line 1"))
    {
      try Lesson(parsing: text, path: "d.md")
    }
  }

  @Test func emptyLessonsAreErrors() {
    #expect(throws: LessonError(file: "e.md", "is empty")) {
      try Lesson(parsing: "  \n", path: "e.md")
    }
  }

  /// Found by the lesson fuzzer: a cell whose fence is never closed swallowed the output
  /// block written after it, so its code changed and every `--write` added another block.
  @Test func writingAfterAnUnclosedCellClosesItFirst() throws {
    for text in [
      "# T\n\n```swift\nprint(1)\n", "# T\n\n  ~~~~swift\nprint(1)\n``",
      "# T\n\n```swift\nprint(1)",
    ] {
      let lesson = try Lesson(parsing: text, path: "t.md")
      func result(_ lesson: Lesson) -> RunResult {
        RunResult(
          status: .finished,
          cells: lesson.executableCells.map {
            CellOutput(
              cell: $0.index, codeCell: $0.index, stdout: "1\n", stderr: "", truncated: false,
              events: [])
          }, seconds: 0)
      }
      let once = writeBack(lesson, result(lesson)).text
      let reparsed = try Lesson(parsing: once, path: "t.md")
      #expect(reparsed.executableCells.map(\.source) == lesson.executableCells.map(\.source))
      #expect(reparsed.cells.filter { $0.role == .output }.map(\.source) == ["1\n"])
      #expect(writeBack(reparsed, result(reparsed)).text == once, "a second write changes it")
    }
  }

  /// Found by the lesson fuzzer: cmark ends a line at a lone `\r`, the write-back did not, so
  /// outputs were written into the middle of a cell. Such a file is refused at its line;
  /// `\r\n` line endings are fine.
  @Test func aLoneCarriageReturnIsRefusedAtItsLine() throws {
    #expect(
      throws: LessonError(
        file: "r.md", line: 4,
        "has a carriage return (\\r) that does not end the line; save the file with \\n or \\r\\n line endings"
      )
    ) {
      try Lesson(parsing: "# T\n\n```swift\nlet x = 1\r// more\n```\n", path: "r.md")
    }
    // Found next: "\r\r\n" is a lone \r before a line ending, refused as well.
    #expect(throws: LessonError.self) {
      try Lesson(parsing: "# T\r\r\n```swift\nx\n```\n", path: "r.md")
    }
    // Swift reads "\r\n" as one character: a CRLF lesson had no cells at all.
    let windows = try Lesson(parsing: "# T\r\n\r\n```swift\r\nlet x = 1\r\n```\r\n", path: "w.md")
    #expect(windows.executableCells.map(\.source) == ["let x = 1\n"])
    #expect(windows.executableCells.map(\.fenceLine) == [3])
    #expect(windows.lineEnding == .crlf)
  }
}
