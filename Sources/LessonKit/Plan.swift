/// The Swift program generated from a lesson: every executed cell in document order, each
/// under a `#sourceLocation` that points back into the Markdown, so that compiler messages
/// and `#line` read `LESSON.md:LINE:COL`.
public struct Program: Sendable, Equatable {
  /// The generated `main.swift`.
  public var source: String
  /// For each cell of the program, in order: the lesson cell at whose position it runs and
  /// the lesson cell whose code it is (a solution's, in place of its exercise's stub).
  public var cells: [(position: Int, code: Int)]

  /// Programs are equal when their source and cell mapping are.
  public static func == (lhs: Program, rhs: Program) -> Bool {
    lhs.source == rhs.source && lhs.cells.elementsEqual(rhs.cells) { $0 == $1 }
  }
}

/// Generates the program for `lesson`.
public func plan(_ lesson: Lesson) -> Program {
  var solutions: [String: Cell] = [:]
  for cell in lesson.cells {
    if case .solution(let id) = cell.role { solutions[id] = cell }
  }
  var source = """
    import Foundation
    import LoRA
    import LessonRuntime

    // Line-buffered output, so that a crash loses nothing a cell printed.
    setvbuf(stdout, nil, _IOLBF, 0)

    """
  var cells: [(Int, Int)] = []
  let file = swiftStringLiteral(lesson.path)
  for cell in lesson.executableCells {
    var code = cell
    if case .exercise(let id, _) = cell.role, let solution = solutions[id] { code = solution }
    source += """

      _lessonCellStarted(\(cells.count))
      #sourceLocation(file: \(file), line: \(code.firstCodeLine))
      \(code.source)
      #sourceLocation()

      """
    cells.append((cell.index, code.index))
  }
  source += "\n_lessonFinished()\n"
  return Program(source: source, cells: cells)
}

/// `text` as a Swift string literal.
func swiftStringLiteral(_ text: String) -> String {
  var result = "\""
  for character in text.unicodeScalars {
    switch character {
    case "\"": result += "\\\""
    case "\\": result += "\\\\"
    case "\n": result += "\\n"
    default: result.unicodeScalars.append(character)
    }
  }
  return result + "\""
}
