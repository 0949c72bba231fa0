import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// The one event schema (`LessonEvents`): what the runtime sends decodes in the runner as
/// the same value, the wire format is pinned, and anything outside the schema is refused.
@Suite("event schema")
struct EventSchemaTests {
  static let check = Check(
    passed: false, message: "B starts at zero", detail: "got 0.5, expected 0.0", line: 12,
    values: CheckValues(
      actual: .numbers([0.5, .nan]), expected: .numbers([0, 0]), tolerance: 1e-5))

  /// One line of every kind the runtime sends.
  static let lines: [ChannelLine] = [
    ChannelLine(key: "k", stdout: 0, stderr: 0, message: .cellStarted(cell: 0, token: "9f2c")),
    ChannelLine(key: "k", stdout: 41, stderr: 3, message: .event(cell: 0, .check(check))),
    ChannelLine(
      key: "k", stdout: 41, stderr: 3,
      message: .event(
        cell: 1,
        .check(
          Check(
            passed: true, message: "equal", line: 3,
            values: CheckValues(actual: .text("[2, 3]"), expected: .text("[2, 3]")))))),
    ChannelLine(
      key: "k", stdout: 50, stderr: 3,
      message: .event(cell: 1, .table(headers: ["rank", "parameters"], rows: [["4", "800"]]))),
    ChannelLine(
      key: "k", stdout: 50, stderr: 3,
      message: .event(
        cell: 1,
        .plot(
          Plot(
            title: "loss", xLabel: "step", yLabel: "MSE",
            series: [Series("loss", [2.5, .infinity, 1.5])], yScale: .log)))),
    ChannelLine(
      key: "k", stdout: 50, stderr: 3,
      message: .event(cell: 2, .progress(label: "fine-tuning", done: 40, total: 200, seconds: 3.25))
    ),
    ChannelLine(key: "k", stdout: 97, stderr: 3, message: .finished(token: "4be1")),
  ]

  @Test func everyLineTheRuntimeSendsDecodesInTheRunnerAsItWasSent() throws {
    for line in Self.lines {
      let text = try line.encoded()
      #expect(!text.contains(UInt8(ascii: "\n")), "one line per message")
      let decoded = try ChannelLine(decoding: text)
      // NaN is not equal to itself: compare the encodings, which spell it "NaN".
      #expect(try decoded.encoded() == text, "\(String(decoding: text, as: UTF8.self))")
    }
  }

  /// The wire format, pinned: a change here is a change for every tool that reads
  /// `--json` or follows a run.
  @Test func theWireFormatIsPinned() throws {
    let pinned = [
      #"{"cell":0,"key":"k","started":"9f2c","stderr":0,"stdout":0}"#,
      #"{"cell":1,"event":{"headers":["rank","parameters"],"kind":"table","rows":[["4","800"]]},"key":"k","stderr":3,"stdout":50}"#,
      #"{"cell":2,"event":{"done":40,"kind":"progress","label":"fine-tuning","seconds":3.25,"total":200},"key":"k","stderr":3,"stdout":50}"#,
      #"{"finished":"4be1","key":"k","stderr":3,"stdout":97}"#,
    ]
    let sent = [Self.lines[0], Self.lines[3], Self.lines[5], Self.lines[6]]
    for (line, text) in zip(sent, pinned) {
      #expect(String(decoding: try line.encoded(), as: UTF8.self) == text)
      #expect(try ChannelLine(decoding: Data(text.utf8)) == line)
    }
    let check = String(decoding: try Self.lines[1].encoded(), as: UTF8.self)
    #expect(check.contains(#""actual":[0.5,"NaN"]"#), "\(check)")
    #expect(check.contains(#""kind":"check""#))
  }

  @Test func unknownFieldsAreRefusedAtEveryLevel() throws {
    let refused = [
      // a field the line does not have
      #"{"cell":0,"key":"k","started":"9f2c","stderr":0,"stdout":0,"extra":1}"#,
      // a field the event kind does not have
      #"{"cell":1,"event":{"headers":[],"kind":"table","rows":[],"caption":"x"},"key":"k","stderr":0,"stdout":0}"#,
      #"{"cell":1,"event":{"kind":"check","passed":true,"message":"m","line":1,"hidden":true},"key":"k","stderr":0,"stdout":0}"#,
      #"{"cell":1,"event":{"kind":"check","passed":true,"message":"m","line":1,"values":{"actual":"a","expected":"a","forged":true}},"key":"k","stderr":0,"stdout":0}"#,
      #"{"cell":1,"event":{"kind":"plot","title":"","xLabel":"","yLabel":"","yScale":"linear","series":[{"name":"a","x":[1],"y":[1],"color":"red"}]},"key":"k","stderr":0,"stdout":0}"#,
      // a kind the schema does not have
      #"{"cell":1,"event":{"kind":"video"},"key":"k","stderr":0,"stdout":0}"#,
      // fields that do not go together: a start and a finish at once
      #"{"cell":0,"key":"k","started":"9f2c","finished":"4be1","stderr":0,"stdout":0}"#,
      // a series whose coordinates do not pair up
      #"{"cell":1,"event":{"kind":"plot","title":"","xLabel":"","yLabel":"","yScale":"linear","series":[{"name":"a","x":[1,2],"y":[1]}]},"key":"k","stderr":0,"stdout":0}"#,
      // a missing field
      #"{"cell":0,"key":"k","started":"9f2c","stdout":0}"#,
    ]
    for text in refused {
      #expect(throws: DecodingError.self, "\(text)") {
        try ChannelLine(decoding: Data(text.utf8))
      }
    }
  }

  /// The events `lessons run --json` prints are the runtime's own, decodable with the same
  /// types: a check with its compared values, a table, a plot with a diverged point, and a
  /// progress bar.
  @Test func runJSONCarriesTheRuntimesEventsInTheSameSchema() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    try """
    # Events

    ```swift
    checkClose(Float(0.5), 0.5, "close")
    table([[4, 800]], headers: ["rank", "parameters"])
    plot([Series("loss", [2.5, Double.nan, 1.5])], title: "loss")
    for _ in progress(0..<3, label: "steps") {}
    ```
    """.write(to: work.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "lesson.md", "--json"], in: work)
    #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    struct Document: Decodable {
      struct Cell: Decodable { var events: [RuntimeEvent] }
      var status: OutcomeStatus
      var cells: [Cell]
    }
    let document = try EventJSON.decoder().decode(Document.self, from: Data(result.stdout.utf8))
    #expect(document.status == .ok)
    let events = try #require(document.cells.first?.events)
    #expect(events.map(\.kind) == [.check, .table, .plot, .progress])
    guard case .check(let check) = events[0], case .plot(let plot) = events[2] else { return }
    #expect(
      check.values
        == CheckValues(
          actual: .numbers([0.5]), expected: .numbers([0.5]), tolerance: Double(Float(1e-5))))
    #expect(plot.series[0].y[1].isNaN)
    guard case .progress(let label, let done, let total, _) = events[3] else { return }
    #expect(label == "steps" && done == 3 && total == 3)
  }
}
