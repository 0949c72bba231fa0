import Testing

@testable import LessonKit

/// Compiler output parsed once, into the diagnostics every reader uses.
@Suite("diagnostics")
struct DiagnosticTests {
  @Test func compilerOutputParsesIntoItsMessagesAndSkipsTheExcerpts() {
    let output = """
      /tmp/a b/lesson.md:14:9: error: cannot find 'loraB' in scope
         12 | let x = 1
         13 | 
         14 |   y = loraB * x
            |       `- error: cannot find 'loraB' in scope
      /tmp/a b/lesson.md:20:5: warning: variable 'z' was never used
      C:\\lessons\\w.md:3:1: note: did you mean 'lora'?
      error: fatal error encountered during compilation
      """
    let diagnostics = Diagnostic.parse(output)
    #expect(
      diagnostics == [
        Diagnostic(
          file: "/tmp/a b/lesson.md", line: 14, column: 9, severity: .error,
          message: "cannot find 'loraB' in scope"),
        Diagnostic(
          file: "/tmp/a b/lesson.md", line: 20, column: 5, severity: .warning,
          message: "variable 'z' was never used"),
        Diagnostic(
          file: "C:\\lessons\\w.md", line: 3, column: 1, severity: .note,
          message: "did you mean 'lora'?"),
      ])
    #expect(BuildError(output: output).firstError?.line == 14)
    #expect(diagnostics[0].text == "/tmp/a b/lesson.md:14:9: error: cannot find 'loraB' in scope")
  }

  @Test func theProgramsSourceMapNamesTheCellOfALine() {
    let cells = [
      ProgramCell(position: 1, code: 1, source: "let a = 1\nlet b = 2", file: "key.md", line: 5),
      ProgramCell(position: 3, code: 3, source: "a + b", file: "student.md", line: 9),
      ProgramCell(position: 4, code: 4, source: "print(a)", file: "key.md", line: 20),
    ]
    let program = Program(cells: cells)
    func cell(_ file: String, _ line: Int) -> Int? {
      program.cell(
        containing: Diagnostic(file: file, line: line, column: 1, severity: .error, message: ""))?
        .position
    }
    #expect(cell("key.md", 6) == 1)
    #expect(cell("student.md", 9) == 3)
    #expect(cell("key.md", 21) == 4)
    #expect(cell("key.md", 2) == nil)
    #expect(cell("other.md", 30) == nil)
  }
}
