import Foundation

/// The JSON Lines of `lessons run --events`: one object per line for each thing a running
/// lesson does, so that an editor or a page can follow it.
///
/// ```json
/// {"kind":"cellStarted","cell":1,"hidden":false,"line":5}
/// {"kind":"output","cell":1,"hidden":false,"line":5,"stream":"stdout","text":"step 0: …\n"}
/// {"kind":"check","cell":1,"hidden":false,"line":5,"passed":true,"message":"…","line":12}
/// {"kind":"cellFinished","cell":1,"hidden":false,"line":5}
/// {"kind":"runFinished","status":"ok","exitCode":0,"seconds":1.9,…}
/// ```
///
/// A cell is named as `--json` names it: `cell`, its number from 1 (`null` for a hidden
/// cell), and `line`, its fence's line. Checks, tables, plots and progress are the events of
/// the channel's schema with these added; for a check, whose own `line` is the call's,
/// the cell's line is `cellLine`.
public struct LiveEventWriter {
  private let lesson: Lesson
  private let numbers: [Int: Int]
  private let encoder = EventJSON.encoder()

  /// A writer for runs of `lesson`.
  public init(lesson: Lesson) {
    self.lesson = lesson
    self.numbers = lesson.cellNumbers
  }

  /// The line for `item`, with its newline; `nil` for what the schema has no line for (the
  /// run's start, the sampled progress, the end, which `finished` writes).
  public func line(_ item: RunEvent) -> String? {
    switch item {
    case .compiling, .started, .progress, .stopped:
      return nil
    case .truncated:
      return line(item.truncationAsText)
    case .cellStarted(let position, _):
      return encode(CellLine(kind: "cellStarted", place: place(position)))
    case .cellFinished(let position):
      return encode(CellLine(kind: "cellFinished", place: place(position)))
    case .text(let position, let text, let stderr):
      return encode(
        OutputLine(place: place(position), stream: stderr ? "stderr" : "stdout", text: text))
    case .event(let position, let event):
      return encode(EventLine(place: place(position), event: event))
    }
  }

  /// The last line: the run's outcome, as `--json` reports it without the cells (also for
  /// a lesson that could not be read, which has no writer).
  public static func finished(_ outcome: LessonOutcome, lessonPath: String) -> String {
    let document = RunDocument(outcome, lessonPath: lessonPath)
    let data = (try? EventJSON.encoder().encode(FinishedLine(document: document))) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }

  private func place(_ position: Int) -> CellPlace {
    CellPlace(number: numbers[position], line: lesson.cells[position].fenceLine)
  }

  private func encode<T: Encodable>(_ value: T) -> String {
    String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
  }
}

/// A cell as the stream names it.
private struct CellPlace {
  var number: Int?
  var line: Int

  func encode(into encoder: Encoder, lineKey: String = "line") throws {
    var fields = encoder.container(keyedBy: StreamKey.self)
    try fields.encode(number, forKey: StreamKey("cell"))
    try fields.encode(number == nil, forKey: StreamKey("hidden"))
    try fields.encode(line, forKey: StreamKey(lineKey))
  }
}

private struct StreamKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

private struct CellLine: Encodable {
  var kind: String
  var place: CellPlace

  func encode(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: StreamKey.self)
    try fields.encode(kind, forKey: StreamKey("kind"))
    try place.encode(into: encoder)
  }
}

private struct OutputLine: Encodable {
  var place: CellPlace
  var stream: String
  var text: String

  func encode(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: StreamKey.self)
    try fields.encode("output", forKey: StreamKey("kind"))
    try fields.encode(stream, forKey: StreamKey("stream"))
    try fields.encode(text, forKey: StreamKey("text"))
    try place.encode(into: encoder)
  }
}

private struct EventLine: Encodable {
  var place: CellPlace
  var event: RuntimeEvent

  func encode(to encoder: Encoder) throws {
    try event.encode(to: encoder)
    // A check has a `line` of its own: the call's.
    var isCheck = false
    if case .check = event { isCheck = true }
    try place.encode(into: encoder, lineKey: isCheck ? "cellLine" : "line")
  }
}

private struct FinishedLine: Encodable {
  var document: RunDocument

  func encode(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: StreamKey.self)
    try fields.encode("runFinished", forKey: StreamKey("kind"))
    try document.encodeSummary(to: encoder)
  }
}
