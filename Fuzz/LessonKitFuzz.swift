// libFuzzer targets for the runner's readers, compiled into the LessonKit module by
// `Scripts/fuzz` (so they reach its internal functions) with `-sanitize=fuzzer`.
//
// `FUZZ_TARGET` picks the target:
// - `lesson`: a lesson file through the parser, the formula extraction, the student
//   hand-out and the write-back of outputs.
// - `events`: the lines a lesson program writes on its event channel, decoded, then rendered
//   for the terminal, for a recorded output block and for an HTML page (SVG plots included).
//   LessonEvents' sources are compiled into the same module.
import Foundation

private let target = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""

/// libFuzzer's entry point: runs the target that `FUZZ_TARGET` names on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  let data = Data(bytes: start, count: count)
  switch target {
  case "lesson": fuzzLesson(data)
  case "events": fuzzEvents(data)
  default: fatalError("FUZZ_TARGET must be lesson or events, not '\(target)'")
  }
  return 0
}

private func fuzzLesson(_ data: Data) {
  let text = String(decoding: data, as: UTF8.self)
  _ = extractMath(from: text, skippingLines: [])
  guard let lesson = try? Lesson(parsing: text, path: "fuzz.md", checkingReferences: false) else {
    return
  }
  // The parsed document prints back as it was read, and parses again to itself.
  if lesson.document.applying([]) != lesson.text
    || LessonDocument(parsing: lesson.document.applying([])) != lesson.document
  {
    fatalError("the document does not round-trip")
  }
  _ = studentVersion(of: lesson)
  _ = RecordedOutputs(lesson).plotLinks
  // Every cell printed something, so the write-back replaces every managed region.
  func run(_ lesson: Lesson) -> RunResult {
    let outputs = lesson.executableCells.map {
      CellOutput(
        cell: $0.index, codeCell: $0.index, stdout: "out\n```\n", stderr: "", truncated: false,
        events: [])
    }
    return RunResult(status: .finished, cells: outputs, seconds: 0)
  }
  let written = writeBack(lesson, run(lesson)).text
  // Writing twice changes nothing.
  if let again = try? Lesson(parsing: written, path: "fuzz.md", checkingReferences: false) {
    if writeBack(again, run(again)).text != written {
      fatalError("write-back is not idempotent")
    }
  }
}

private func fuzzEvents(_ data: Data) {
  let events = decodeChannelLines(data, key: "k").compactMap { line -> RuntimeEvent? in
    if case .event(_, let event) = line.message { return event } else { return nil }
  }
  let output = CellOutput(
    cell: 0, codeCell: 0, stdout: "printed\n", stderr: "", truncated: false, events: events,
    eventOffsets: events.indices.map { $0 * 3 })
  _ = TerminalRenderer(color: true, showTiming: true).render(output)
  _ = recordedText(output)
  for event in events {
    _ = eventHTML(event)
  }
}
