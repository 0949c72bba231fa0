/// A Markdown lesson as the runner sees it: its text and its fenced code blocks, in order.
public struct Lesson: Sendable, Equatable {
  /// Where the lesson was read from, as the user named it; used in every message.
  public var path: String
  /// The file as parsed, once: its text and blocks, which every edit of it starts from.
  public let document: LessonDocument
  /// The fenced code blocks, in document order.
  public var cells: [Cell]

  /// A lesson from its parts.
  init(path: String, document: LessonDocument, cells: [Cell]) {
    self.path = path
    self.document = document
    self.cells = cells
  }

  /// The whole file (with `\n` line endings), so that writing outputs back keeps the prose
  /// byte for byte.
  public var text: String { document.text }

  /// The first heading's text, or the file name.
  public var title: String?
  /// How the file ended its lines; `text` always has `\n`, and `--write` writes the file's
  /// own endings back.
  public var lineEnding: LineEnding = .lf

  /// The cells that run, in order.
  public var executableCells: [Cell] { cells.filter(\.role.isExecuted) }

  /// The number a reader sees for each cell that runs and is shown: 1, 2, … in order, by
  /// the cell's `index`. Hidden cells have none, so the shown numbers never skip one. The
  /// terminal's `[N]`, the JSON report's `cell` and the names of written plot files all use
  /// these.
  public var cellNumbers: [Int: Int] {
    let shown = executableCells.filter { $0.role != .hidden }
    return Dictionary(uniqueKeysWithValues: shown.enumerated().map { ($1.index, $0 + 1) })
  }

  /// The hint blocks of exercise `id`, in the order they are revealed.
  public func hints(for id: String) -> [Cell] {
    cells.filter { $0.role == .hint(exercise: id) }
  }

  /// Which hint of its exercise the hint block `cell` is, from 1; `nil` for another cell.
  public func hintNumber(of cell: Cell) -> Int? {
    guard case .hint(let id) = cell.role else { return nil }
    return hints(for: id).firstIndex { $0.index == cell.index }.map { $0 + 1 }
  }
}

/// The line endings of a lesson file.
public enum LineEnding: Sendable, Equatable {
  /// `\n` only.
  case lf
  /// `\r\n` only, as Windows editors save.
  case crlf
  /// Both: `--write` refuses, since writing would change some of them.
  case mixed

  /// The endings of `text`.
  init(of text: String) {
    var (lf, crlf) = (false, false)
    var previous: UInt8 = 0
    for byte in text.utf8 {
      if byte == UInt8(ascii: "\n") {
        if previous == UInt8(ascii: "\r") { crlf = true } else { lf = true }
      }
      previous = byte
    }
    self = crlf ? (lf ? .mixed : .crlf) : .lf
  }
}

/// `text` with each `\r\n` as `\n`. Done on bytes: Swift's `replacingOccurrences` works on
/// Characters, and turns `\r\r\n` into `\r\n` again. Every `\r` must end a line (the
/// parser refuses a lone one), so removing them all is the same.
func withNewlineEndings(_ text: String) -> String {
  guard text.utf8.contains(UInt8(ascii: "\r")) else { return text }
  return String(decoding: text.utf8.filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
}

/// One fenced code block of a lesson.
public struct Cell: Sendable, Equatable {
  /// The block's position among all code blocks, from 0.
  public var index: Int
  /// The language word of the info string (`swift`, `output`, `python`, ...).
  public var language: String
  /// What the cell is for, from its info string.
  public var role: CellRole
  /// The code, without the fences.
  public var source: String
  /// The 1-based line of the opening fence.
  public var fenceLine: Int
  /// The 1-based line of the closing fence (or the last line, for an unclosed block).
  public var endLine: Int

  /// A cell from its parts.
  public init(
    index: Int, language: String, role: CellRole, source: String, fenceLine: Int, endLine: Int
  ) {
    self.index = index
    self.language = language
    self.role = role
    self.source = source
    self.fenceLine = fenceLine
    self.endLine = endLine
  }

  /// The 1-based line of the first line of code.
  public var firstCodeLine: Int { fenceLine + 1 }
}

/// What a code block does, read from its info string (see the lesson format in the README).
public enum CellRole: Sendable, Equatable {
  /// ` ```swift `: runs and is shown.
  case code
  /// ` ```swift hidden `: runs, is not shown in exports.
  case hidden
  /// ` ```swift no_run `: shown, never compiled.
  case noRun
  /// ` ```swift exercise id=ID points=N `: a stub the student fills in.
  case exercise(id: String, points: Int)
  /// ` ```swift solution for=ID `: the teacher's answer, run in place of the exercise.
  case solution(exercise: String)
  /// ` ```swift check for=ID [hidden] `: assertions that grade an exercise.
  case check(exercise: String, hidden: Bool)
  /// ` ```output `: the recorded output of the cell above.
  case output
  /// ` ```hint for=ID `: a hint for an exercise, in Markdown; an exercise's hints are
  /// revealed one at a time, in the order they stand (`lessons hint`).
  case hint(exercise: String)
  /// Any other language: shown, never run.
  case other

  /// The exercise's id, for an exercise cell.
  public var exerciseID: String? {
    if case .exercise(let id, _) = self { return id }
    return nil
  }

  /// Whether the cell's position runs code: an exercise runs its solution's code when the
  /// lesson has one (a teacher's file) and its own stub otherwise (a student's), so a
  /// solution never runs at its own position.
  public var isExecuted: Bool {
    switch self {
    case .code, .hidden, .exercise, .check: return true
    case .solution, .noRun, .output, .hint, .other: return false
    }
  }
}
