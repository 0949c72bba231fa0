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
    self.init(
      source: Self.source(of: cells, tokens: tokens), cells: cells, markerTokens: tokens)
  }

  /// This program with `insertions` made in its cells' code, as a check asks
  /// (`ProgramReview`): the same cells, tokens and line numbering, and the same cache keys
  /// for its cached blocks, which hash the code as the lesson has it.
  public func inserting(_ insertions: [SourceInsertion]) -> Program {
    guard !insertions.isEmpty else { return self }
    var inserted = cells.map { Array($0.source.utf8) }
    // From the end of each cell, so that an earlier offset still points where it did.
    for insertion in insertions.sorted(by: { ($0.cell, $0.offset) > ($1.cell, $1.offset) })
    where inserted.indices.contains(insertion.cell)
      && (0...inserted[insertion.cell].count).contains(insertion.offset)
    {
      inserted[insertion.cell].insert(contentsOf: insertion.text.utf8, at: insertion.offset)
    }
    let code = inserted.map { String(decoding: $0, as: UTF8.self) }
    var program = self
    program.source = Self.source(of: cells, tokens: markerTokens, code: code)
    return program
  }

  /// The program's text: the cells' code (`code`, or their own), each after its start marker.
  private static func source(
    of cells: [ProgramCell], tokens: [String], code: [String]? = nil
  ) -> String {
    var source = """
      import Foundation
      import LoRA
      import LessonRuntime

      // Line-buffered output, so that a crash loses nothing a cell printed.
      setvbuf(stdout, nil, _IOLBF, 0)

      """
    // What a cached block's key knows of the code that led to it: this cell's and every
    // earlier cell's, not the prose between them nor where they stand. (Seeded with the
    // line scheme, so that entries recorded with absolute lines are not replayed.)
    var hash = StableHash()
    hash.add("virtual lines\n")
    let virtual = Self.usesVirtualLines(cells)
    for (number, cell) in cells.enumerated() {
      hash.add(cell.source + "\n\u{0}")
      let context = hash.hex
      let line = virtual ? Self.virtualLine(cell: number) : cell.line
      source += """

        _lessonCellStarted(\(number), token: 0x\(tokens[number]), context: 0x\(context), line: \(line))
        #sourceLocation(file: \(swiftStringLiteral(cell.file)), line: \(line))
        \(code?[number] ?? cell.source)
        #sourceLocation()

        """
    }
    source += "\n_lessonFinished(token: 0x\(tokens[cells.count]))\n"
    return source
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

extension Program {
  /// Lines per cell in the program's line numbering: cell `k`'s code starts at line
  /// `(k + 1) · lineStride` of its file, wherever it stands in the lesson. So an edit of the
  /// prose, or `--write` moving the outputs, leaves the program's text, and its compiled
  /// binary, as they were; every line the compiler or the program reports is mapped back to
  /// the lesson's (`lessonLine`, `rewritingLines`) before anyone sees it.
  static let lineStride = 100_000

  /// Whether `cells` fit the numbering: none as long as the stride. (A lesson with such a
  /// cell numbers its lines as they stand, and recompiles after a prose edit.)
  static func usesVirtualLines(_ cells: [ProgramCell]) -> Bool {
    cells.allSatisfy { $0.lines.count < lineStride } && cells.count < Int.max / lineStride - 1
  }

  /// The first line of cell `number`'s code in the program's numbering.
  static func virtualLine(cell number: Int) -> Int { (number + 1) * lineStride }

  /// The program cell and lesson line of a line in the program's numbering; nil for a line
  /// that is not in it (the lesson's own line, when the program numbers as the lesson).
  func lessonPosition(ofProgramLine line: Int) -> (cell: ProgramCell, line: Int)? {
    guard Self.usesVirtualLines(cells), line >= Self.lineStride else { return nil }
    let number = line / Self.lineStride - 1
    guard cells.indices.contains(number) else { return nil }
    return (cells[number], cells[number].line + line % Self.lineStride)
  }

  /// The lesson's line for a line the program reports (a check's `#line`).
  public func lessonLine(_ line: Int) -> Int { lessonPosition(ofProgramLine: line)?.line ?? line }

  /// `text` (the compiler's messages, a runtime error) with every `FILE:LINE` of the
  /// program's numbering written as the lesson's line. A runtime error names the file as
  /// `#fileID` does, `Lesson/NAME.md` (the program's module, then the file's last
  /// component): that is written as the lesson's file too.
  public func rewritingLines(in text: String) -> String {
    guard Self.usesVirtualLines(cells), text.contains(":") else { return text }
    var result = text
    let files = Set(cells.map(\.file))
    for file in files { result = Self.replacingFileID(of: file, in: result) }
    for file in files where result.contains(file + ":") {
      var rewritten = ""
      var rest = Substring(result)
      while let range = rest.range(of: file + ":") {
        rewritten += rest[..<range.upperBound]
        rest = rest[range.upperBound...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        if let line = Int(digits), let position = lessonPosition(ofProgramLine: line),
          position.cell.file == file
        {
          rewritten += String(position.line)
          rest = rest.dropFirst(digits.count)
        }
      }
      result = rewritten + rest
    }
    return result
  }

  /// `text` with `Lesson/NAME:` (NAME the last component of `file`) written as `file:`,
  /// where it starts a word (not inside a longer path).
  private static func replacingFileID(of file: String, in text: String) -> String {
    let fileID = "Lesson/" + (file.split(separator: "/").last.map(String.init) ?? file) + ":"
    guard fileID != file + ":", text.contains(fileID) else { return text }
    var rewritten = ""
    var rest = Substring(text)
    while let range = rest.range(of: fileID) {
      let before = rest[..<range.lowerBound]
      let startsWord = before.last.map { !($0 == "/" || $0.isLetter || $0.isNumber) } ?? true
      rewritten += before + (startsWord ? file + ":" : String(rest[range]))
      rest = rest[range.upperBound...]
    }
    return rewritten + rest
  }
}
