import Foundation

/// Seconds per call of `body`: the median of `trials` timings, each over enough calls to
/// last about `minimumSeconds`, after one warm-up call.
func secondsPerCall(trials: Int = 5, minimumSeconds: Double = 0.1, _ body: () -> Void) -> Double {
  body()
  let clock = ContinuousClock()
  var calls = 1
  while true {
    let elapsed = clock.measure { for _ in 0..<calls { body() } }
    if elapsed.seconds >= minimumSeconds / 4 || calls >= 1 << 20 { break }
    calls *= 4
  }
  let timings = (0..<trials).map { _ in
    clock.measure { for _ in 0..<calls { body() } }.seconds / Double(calls)
  }
  return median(timings)
}

/// The middle value (the mean of the two middle values for an even count).
func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

extension Duration {
  /// The duration in seconds.
  var seconds: Double {
    let (whole, fraction) = components
    return Double(whole) + Double(fraction) * 1e-18
  }
}

/// A Markdown table, columns padded to line up in a terminal too.
struct MarkdownTable {
  let headers: [String]
  var rows: [[String]] = []

  init(_ headers: String...) {
    self.headers = headers
  }

  mutating func add(_ cells: String...) {
    rows.append(cells)
  }

  mutating func add(_ cells: [String]) {
    rows.append(cells)
  }

  func render() -> String {
    let widths = headers.indices.map { column in
      ([headers] + rows).map { $0[column].count }.max()!
    }
    func line(_ cells: [String]) -> String {
      "| "
        + zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
        .joined(separator: " | ") + " |"
    }
    let rule =
      "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
    return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
  }
}

/// A number with a fixed count of decimals.
func fixed(_ value: Double, _ decimals: Int = 1) -> String {
  String(format: "%.\(decimals)f", value)
}
