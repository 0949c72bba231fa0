import Foundation

/// A lesson's outcome as one JSON document, for tools: the lesson, the status and exit
/// code, the error (with its cell and line) or the compiler's diagnostics, and every cell's
/// outputs and events. Events are the `RuntimeEvent` objects of the channel, as they came.
public func renderJSON(_ outcome: LessonOutcome, lessonPath: String) -> String {
  let document = RunDocument(outcome, lessonPath: lessonPath)
  let data = (try? EventJSON.encoder(pretty: true).encode(document)) ?? Data()
  return String(decoding: data, as: UTF8.self) + "\n"
}

/// The document `renderJSON` writes.
struct RunDocument: Encodable {
  var lesson: String
  var title: String?
  var status: OutcomeStatus
  var exitCode: Int32
  var seconds: Double?
  var checks: CheckCounts?
  var error: ErrorReport?
  var diagnostics: [Diagnostic]?
  var cells: [CellReport] = []

  struct CheckCounts: Encodable {
    var passed: Int
    var failed: Int
  }

  struct ErrorReport: Encodable {
    /// The cell as the terminal numbers it, from 1; `nil` for a hidden cell or none.
    var cell: Int?
    var line: Int?
    var message: String

    func encode(to encoder: Encoder) throws {
      var fields = encoder.container(keyedBy: CodingKeys.self)
      // Nulls rather than absent keys: a reader can tell "no cell" from an old format.
      try fields.encode(cell, forKey: .cell)
      try fields.encode(line, forKey: .line)
      try fields.encode(message, forKey: .message)
    }
    enum CodingKeys: String, CodingKey { case cell, line, message }
  }

  struct CellReport: Encodable {
    var cell: Int?
    var hidden: Bool
    var line: Int
    var stdout: String
    var stderr: String
    var truncated: Bool
    var events: [RuntimeEvent]

    func encode(to encoder: Encoder) throws {
      var fields = encoder.container(keyedBy: CodingKeys.self)
      try fields.encode(cell, forKey: .cell)
      try fields.encode(hidden, forKey: .hidden)
      try fields.encode(line, forKey: .line)
      try fields.encode(stdout, forKey: .stdout)
      try fields.encode(stderr, forKey: .stderr)
      try fields.encode(truncated, forKey: .truncated)
      try fields.encode(events, forKey: .events)
    }
    enum CodingKeys: String, CodingKey {
      case cell, hidden, line, stdout, stderr, truncated, events
    }
  }

  init(_ outcome: LessonOutcome, lessonPath: String) {
    lesson = outcome.lesson?.path ?? lessonPath
    title = outcome.lesson?.title
    status = outcome.status
    exitCode = outcome.exit.rawValue
    switch outcome {
    case .notRun(let lessonError):
      // The file's line, when the error has one (a bad cell attribute, an unclosed fence).
      error = ErrorReport(line: lessonError.line, message: "\(lessonError)")
    case .didNotCompile(_, let buildError):
      error = ErrorReport(message: buildError.output)
      diagnostics = buildError.diagnostics
    case .ran(let lesson, let result):
      let lines = Dictionary(uniqueKeysWithValues: lesson.cells.map { ($0.index, $0.fenceLine) })
      // Cells are numbered as the terminal numbers them, from 1; a hidden cell has no number.
      let numbers = lesson.cellNumbers
      seconds = result.seconds
      checks = CheckCounts(
        passed: result.checks.filter(\.passed).count,
        failed: result.checks.filter { !$0.passed }.count)
      if let message = result.stopMessage {
        let cell = result.status.cell
        error = ErrorReport(
          cell: cell.flatMap { numbers[$0] }, line: cell.flatMap { lines[$0] }, message: message)
      }
      cells = result.cells.map {
        CellReport(
          cell: numbers[$0.cell], hidden: numbers[$0.cell] == nil, line: lines[$0.cell] ?? 0,
          stdout: $0.stdout, stderr: $0.stderr, truncated: $0.truncated, events: $0.events)
      }
    }
  }

  func encode(to encoder: Encoder) throws {
    try encodeSummary(to: encoder)
    var fields = encoder.container(keyedBy: CodingKeys.self)
    try fields.encode(cells, forKey: .cells)
  }

  /// Every field but the cells.
  func encodeSummary(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: CodingKeys.self)
    try fields.encode(lesson, forKey: .lesson)
    try fields.encode(title, forKey: .title)
    try fields.encode(status, forKey: .status)
    try fields.encode(exitCode, forKey: .exitCode)
    try fields.encodeIfPresent(seconds, forKey: .seconds)
    try fields.encodeIfPresent(checks, forKey: .checks)
    try fields.encodeIfPresent(error, forKey: .error)
    try fields.encodeIfPresent(diagnostics, forKey: .diagnostics)
  }
  enum CodingKeys: String, CodingKey {
    case lesson, title, status, exitCode, seconds, checks, error, diagnostics, cells
  }
}
