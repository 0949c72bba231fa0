import Foundation

/// The JSON objects among `lines` that carry this run's key; anything else is ignored.
func decodeEventLines(_ lines: Data.SubSequence, key: String) -> [[String: Any]] {
  lines.split(separator: UInt8(ascii: "\n")).compactMap { line in
    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
      object["key"] as? String == key
    else { return nil }
    return object
  }
}

/// A check, table, plot or progress event from its JSON object; `nil` for a kind this
/// version does not know or a check without its fields. Missing optional fields get defaults.
func decodeEvent(_ event: [String: Any]) -> RuntimeEvent? {
  switch event["kind"] as? String {
  case "check":
    guard let passed = event["passed"] as? Bool, let message = event["message"] as? String else {
      return nil
    }
    return .check(
      Check(
        passed: passed, message: message, detail: event["detail"] as? String,
        line: event["line"] as? Int ?? 0, values: checkValues(event)))
  case "table":
    return .table(
      headers: event["headers"] as? [String] ?? [], rows: event["rows"] as? [[String]] ?? [])
  case "plot":
    let series = (event["series"] as? [[String: Any]] ?? []).map {
      Plot.Series(
        name: $0["name"] as? String ?? "", x: $0["x"] as? [Double] ?? [],
        y: $0["y"] as? [Double] ?? [])
    }
    return .plot(
      Plot(
        title: event["title"] as? String ?? "", xLabel: event["xLabel"] as? String ?? "",
        yLabel: event["yLabel"] as? String ?? "", series: series,
        yScale: (event["yScale"] as? String).flatMap { PlotScale(rawValue: $0) } ?? .linear))
  case "progress":
    return .progress(
      label: event["label"] as? String ?? "", done: event["done"] as? Int ?? 0,
      total: event["total"] as? Int ?? 0, seconds: event["seconds"] as? Double ?? 0)
  default:
    return nil
  }
}

/// A strong check's compared values, when the event carries both.
private func checkValues(_ event: [String: Any]) -> CheckValues? {
  func value(_ key: String) -> CheckValues.Value? {
    if let text = event[key] as? String { return .text(text) }
    if let numbers = event[key] as? [Double] { return .numbers(numbers) }
    return nil
  }
  guard let actual = value("actual"), let expected = value("expected") else { return nil }
  return CheckValues(actual: actual, expected: expected, tolerance: event["tolerance"] as? Double)
}
