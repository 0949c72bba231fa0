/// The Swift program generated from a lesson: every executed cell in document order, each
/// under a `#sourceLocation` that points back into the Markdown, so that compiler messages
/// and `#line` read `LESSON.md:LINE:COL`.
public struct Program: Sendable, Equatable {
  /// The generated `main.swift`.
  public var source: String
  /// The program's cells, in order.
  public var cells: [ProgramCell]
  /// The token each cell's start marker carries, then the finish marker's: the runner
  /// believes a marker only with its token.
  public var markerTokens: [String]
}

/// One cell of a program: the code that runs, where it comes from, and the lesson position
/// it stands for.
public struct ProgramCell: Sendable, Equatable, Codable {
  /// The lesson cell at whose position this runs (outputs are reported there).
  public var position: Int
  /// The lesson cell whose code runs: the same cell, or an exercise's solution.
  public var code: Int
  /// The code.
  public var source: String
  /// The Markdown file the code comes from, for compiler messages.
  public var file: String
  /// The 1-based line of the code's first line in that file.
  public var line: Int
  /// Whether the code is a learner's: an exercise cell that runs its own code, not the
  /// key's solution. It compiles under Swift's strict memory safety, and unsafe code in it
  /// is refused (`Compiler.build`); the teacher's cells are not restricted.
  public var isLearnersCode: Bool

  /// A program cell from its parts.
  public init(
    position: Int, code: Int, source: String, file: String, line: Int,
    isLearnersCode: Bool = false
  ) {
    self.position = position
    self.code = code
    self.source = source
    self.file = file
    self.line = line
    self.isLearnersCode = isLearnersCode
  }

  /// The lines of the lesson file its code spans.
  public var lines: ClosedRange<Int> {
    line...(line + source.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
  }
}

extension Program {
  /// Generates the program for `lesson`: each exercise runs its solution's code when the
  /// lesson has one (a teacher's file) and its own stub otherwise (a student's).
  ///
  /// The marker tokens are fixed, so that the program stays cached between runs; a grader,
  /// which runs code it does not trust, asks for fresh ones with `init(cells:markerSeed:)`.
  public init(_ lesson: Lesson) {
    var solutions: [String: Cell] = [:]
    for cell in lesson.cells {
      if case .solution(let id) = cell.role { solutions[id] = cell }
    }
    self.init(
      cells: lesson.executableCells.map { cell in
        var code = cell
        var isLearnersCode = false
        if case .exercise(let id, _) = cell.role {
          if let solution = solutions[id] { code = solution } else { isLearnersCode = true }
        }
        return ProgramCell(
          position: cell.index, code: code.index, source: code.source, file: lesson.path,
          line: code.firstCodeLine, isLearnersCode: isLearnersCode)
      })
  }

  /// Generates the program that runs `cells` in order, with marker tokens drawn from
  /// `markerSeed` (a grader passes a random one, so a submission cannot know them).
  public init(cells: [ProgramCell], markerSeed: UInt64 = 0) {
    var generator = SplitMix64(seed: markerSeed)
    // Integer literals in the generated code: they compile to immediates in its instructions,
    // not to strings that `strings` would list.
    let tokens = (0...cells.count).map { _ in String(generator.next(), radix: 16) }
    var source = """
      import Foundation
      import LoRA
      import LessonRuntime

      // Line-buffered output, so that a crash loses nothing a cell printed.
      setvbuf(stdout, nil, _IOLBF, 0)

      """
    // What a cached block's key knows of the code that led to it: this cell's and every
    // earlier cell's, not the prose between them nor where they stand.
    var code = StableHash()
    for (number, cell) in cells.enumerated() {
      code.add(cell.source + "\n\u{0}")
      let context = code.hex
      source += """

        _lessonCellStarted(\(number), token: 0x\(tokens[number]), context: 0x\(context), line: \(cell.line))
        #sourceLocation(file: \(swiftStringLiteral(cell.file)), line: \(cell.line))
        \(cell.source)
        #sourceLocation()

        """
    }
    source += "\n_lessonFinished(token: 0x\(tokens[cells.count]))\n"
    self.init(source: source, cells: cells, markerTokens: tokens)
  }
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

/// SplitMix64: a small, well-mixed generator for marker tokens.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
