import Foundation

/// The whole run as one JSON document, for tools: the lesson, the status, and every cell's
/// outputs, events and checks.
public func renderJSON(_ lesson: Lesson, _ result: RunResult, exit: LessonExit) -> String {
  let lines = Dictionary(uniqueKeysWithValues: lesson.cells.map { ($0.index, $0.fenceLine) })
  // Cells are numbered as the terminal numbers them, from 1; a hidden cell has no number.
  let numbers = lesson.cellNumbers
  func number(_ cell: Int?) -> Any { cell.flatMap { numbers[$0] }.map { $0 as Any } ?? NSNull() }
  var document: [String: Any] = [
    "lesson": lesson.path, "title": lesson.title ?? NSNull(), "exitCode": exit.rawValue,
    "seconds": result.seconds,
    "checks": [
      "passed": result.checks.filter(\.passed).count,
      "failed": result.checks.filter { !$0.passed }.count,
    ],
  ]
  switch result.status {
  case .finished:
    document["status"] = "ok"
  case .crashed(let cell, let reason):
    document["status"] = "crashed"
    document["error"] = errorObject(
      cell: number(cell), line: cell.flatMap { lines[$0] }, message: reason)
  case .timedOut(let cell, let seconds):
    document["status"] = "timeout"
    document["error"] = errorObject(
      cell: number(cell), line: cell.flatMap { lines[$0] },
      message: "timed out after \(seconds) s")
  }
  document["cells"] = result.cells.map { output -> [String: Any] in
    [
      "cell": number(output.cell), "hidden": numbers[output.cell] == nil,
      "line": lines[output.cell] ?? 0, "stdout": output.stdout,
      "stderr": output.stderr, "truncated": output.truncated,
      "events": output.events.map(jsonObject),
    ]
  }
  return jsonText(document)
}

/// A failure before running (bad input, a compile error) as the same kind of document.
public func renderJSONError(lessonPath: String, status: String, message: String) -> String {
  jsonText([
    "lesson": lessonPath, "status": status, "exitCode": LessonExit.couldNotRun.rawValue,
    "error": ["message": message], "cells": [Any](),
  ])
}

private func errorObject(cell: Any, line: Int?, message: String) -> [String: Any] {
  ["cell": cell, "line": line.map { $0 as Any } ?? NSNull(), "message": message]
}

private func jsonObject(_ event: RuntimeEvent) -> [String: Any] {
  switch event {
  case .check(let check):
    return [
      "kind": "check", "passed": check.passed, "message": check.message, "line": check.line,
      "detail": check.detail ?? NSNull(),
    ]
  case .table(let headers, let rows):
    return ["kind": "table", "headers": headers, "rows": rows]
  case .plot(let plot):
    return [
      "kind": "plot", "title": plot.title, "xLabel": plot.xLabel, "yLabel": plot.yLabel,
      "yScale": plot.yScale.rawValue,
      "series": plot.series.map { ["name": $0.name, "x": $0.x, "y": $0.y] },
    ]
  case .progress(let label, let done, let total, let seconds):
    return ["kind": "progress", "label": label, "done": done, "total": total, "seconds": seconds]
  }
}

private func jsonText(_ object: [String: Any]) -> String {
  let data =
    (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]))
    ?? Data()
  return String(decoding: data, as: UTF8.self) + "\n"
}
