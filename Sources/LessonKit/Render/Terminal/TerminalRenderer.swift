import Foundation

/// Renders a run for a terminal: each cell with its number and line, its code, then its
/// outputs; checks as ✓/✗; a summary line. Colour only when asked (a TTY without
/// `NO_COLOR`).
public struct TerminalRenderer {
  /// Whether to use ANSI colours.
  public var color: Bool
  /// Whether progress lines show time and rate (not in recorded outputs, which must not
  /// change from run to run).
  public var showTiming: Bool

  /// A renderer; see `TerminalRenderer.shouldUseColor()`.
  public init(color: Bool, showTiming: Bool = true) {
    self.color = color
    self.showTiming = showTiming
  }

  /// Whether standard output is a terminal and `NO_COLOR` is unset.
  public static func shouldUseColor() -> Bool {
    isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
  }

  /// The whole report: the live printer, fed the run's record again.
  public func render(_ lesson: Lesson, _ result: RunResult) -> String {
    var text = ""
    let printer = LiveTerminalPrinter(lesson: lesson, renderer: self) { text += $0 }
    for event in result.replayed { printer.show(event) }
    printer.finish(result)
    return text
  }

  /// The report's first line: the lesson's title and path.
  func title(_ lesson: Lesson) -> String {
    bold(lesson.title ?? lesson.path) + dim("  \(lesson.path)") + "\n"
  }

  /// The rule that opens a cell, with its number (`nil` for a hidden cell) and line, then
  /// the code that ran there (an exercise's solution, where the lesson has one); a hidden
  /// cell's code is not shown.
  func header(_ cell: Cell, code: Cell, number: Int?) -> String {
    let label = number.map { "[\($0)]" } ?? "[hidden]"
    var text =
      "\n" + dim("── \(label) line \(cell.fenceLine) " + String(repeating: "─", count: 40)) + "\n"
    if cell.role != .hidden {
      for line in code.source.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
        text += dim("│ ") + line + "\n"
      }
    }
    return text
  }

  /// A cell's standard error as shown: in the cell the program crashed in, without the
  /// runtime's message, which the crash line says once.
  func stderrShown(_ stderr: String, in cell: Int, _ result: RunResult) -> String {
    guard case .stopped(cell, let cause) = result.status, let message = cause.runtimeMessage
    else { return stderr }
    let kept = stderr.split(separator: "\n", omittingEmptySubsequences: false)
      .filter { $0 != message }
      .joined(separator: "\n")
    return kept.allSatisfy(\.isNewline) ? "" : kept
  }

  /// The end of the report: why the run stopped, when it stopped outside every shown cell
  /// (a program that could not start), and the summary line.
  func closing(_ result: RunResult, cellShown: (Int) -> Bool) -> String {
    var text = ""
    if let message = result.stopMessage, result.status.cell.map({ !cellShown($0) }) ?? true {
      text += "\n" + red("✗ " + message) + "\n"
    }
    return text + "\n" + summary(result) + "\n"
  }

  /// One cell's outputs, text and rich outputs in the order the cell made them.
  func render(_ output: CellOutput) -> String {
    var text = ""
    for item in output.items {
      switch item {
      case .text(let printed):
        text += printed
      case .event(let event):
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        text += render(event)
      }
    }
    if !output.stderr.isEmpty {
      if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
      text += yellow(output.stderr)
    }
    if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
    return text
  }

  func render(_ event: RuntimeEvent) -> String {
    switch event {
    case .check(let check):
      let mark = check.passed ? green("✓") : red("✗")
      return "\(mark) \(check.message)" + (check.detail.map { dim(" — \($0)") } ?? "") + "\n"
        + (check.passed ? "" : check.hint.map { "  " + yellow("hint: ") + $0 + "\n" } ?? "")
    case .table(let headers, let rows):
      return alignedTable(headers: headers, rows: rows)
    case .plot(let plot):
      return unicodeChart(plot)
    case .progress(let label, let done, let total, let seconds):
      return progressLine(
        label: label, done: done, total: total, seconds: showTiming ? seconds : nil) + "\n"
    }
  }

  /// The line under the cell the run stopped in, saying why.
  func failure(in cell: Int, _ result: RunResult) -> String {
    result.failure(inCell: cell).map { red("✗ " + $0) + "\n" } ?? ""
  }

  /// `14 cells run · 9 checks passed · 1 failed · 2.3 s`.
  func summary(_ result: RunResult) -> String {
    let checks = result.checks
    let passed = checks.filter(\.passed).count
    var parts = [
      counted(result.cells.count, "cell") + " run", counted(passed, "check") + " passed",
    ]
    if checks.count > passed { parts.append(red("\(checks.count - passed) failed")) }
    switch result.status {
    case .finished: break
    case .stopped(_, .timeout): parts.append(red("timed out"))
    case .stopped: parts.append(red("crashed"))
    }
    parts.append(String(format: "%.1f s", result.seconds))
    return parts.joined(separator: " · ")
  }

  private func bold(_ text: String) -> String { color ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
  private func dim(_ text: String) -> String { color ? "\u{1B}[2m\(text)\u{1B}[0m" : text }
  private func green(_ text: String) -> String { color ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
  private func red(_ text: String) -> String { color ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
  func yellow(_ text: String) -> String { color ? "\u{1B}[33m\(text)\u{1B}[0m" : text }
}

/// `text` without ANSI colour and cursor codes.
func withoutTerminalCodes(_ text: String) -> String {
  text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*[A-Za-z]", with: "", options: .regularExpression)
}

/// `1 cell`, `2 cells`.
public func counted(_ count: Int, _ noun: String) -> String {
  "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// A table with columns padded to line up, under a rule.
public func alignedTable(headers: [String], rows: [[String]]) -> String {
  let columns = ([headers] + rows).map(\.count).max() ?? 0
  let widths = (0..<columns).map { column in
    ([headers] + rows).map { column < $0.count ? $0[column].count : 0 }.max() ?? 0
  }
  func line(_ cells: [String]) -> String {
    (0..<columns).map { column in
      let cell = column < cells.count ? cells[column] : ""
      return cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
    }.joined(separator: "  ").replacingOccurrences(
      of: "\\s+$", with: "", options: .regularExpression)
  }
  let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
  return ([line(headers), rule] + rows.map(line)).joined(separator: "\n") + "\n"
}

/// A progress bar's last state: `fine-tuning ████████████ 200/200 · 3.1 s · 64.5/s`, without
/// the time and rate when `seconds` is `nil`.
public func progressLine(label: String, done: Int, total: Int, seconds: Double?) -> String {
  let width = 24
  // Clamped, and in floating point: a bar past its total, or counts near Int.max, still draw.
  let fraction = total > 0 ? min(max(Double(done) / Double(total), 0), 1) : 1
  let filled = Int(fraction * Double(width))
  let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
  var line = (label.isEmpty ? "" : label + " ") + "\(bar) \(done)/\(total)"
  if let seconds {
    line += String(format: " · %.1f s", seconds)
    if seconds > 0 { line += String(format: " · %.1f/s", Double(done) / seconds) }
  }
  return line
}

/// A compact chart of the series in Unicode, 10 rows high, with the y range and legend. A log
/// y axis spaces rows by ratios, so a loss that falls over decades stays readable.
func unicodeChart(_ plot: Plot, width: Int = 60, height: Int = 10) -> String {
  let points = plot.series.flatMap { zip($0.x, $0.y) }.filter {
    PlotAxis.coordinate($0.0, .linear) != nil && PlotAxis.coordinate($0.1, plot.yScale) != nil
  }
  guard let minX = points.map(\.0).min(), let maxX = points.map(\.0).max(),
    let minY = points.map(\.1).min(), let maxY = points.map(\.1).max()
  else { return "(empty plot)\n" }
  // The data's own ends, not round ticks: the chart is too small for a tick grid.
  let xs = (PlotAxis.coordinate(minX, .linear)!, PlotAxis.coordinate(maxX, .linear)!)
  let ys = (PlotAxis.coordinate(minY, plot.yScale)!, PlotAxis.coordinate(maxY, plot.yScale)!)
  /// The cell of `fraction` of the way along `count` cells, clamped to the grid.
  func cell(_ value: Double, _ ends: (Double, Double), _ count: Int) -> Int {
    let fraction = ends.1 > ends.0 ? (value - ends.0) / (ends.1 - ends.0) : 0.5
    return fraction.isFinite ? Int((min(max(fraction, 0), 1) * Double(count - 1)).rounded()) : 0
  }
  let marks: [Character] = ["●", "○", "◆", "◇", "■", "□"]
  var grid = [[Character]](repeating: [Character](repeating: " ", count: width), count: height)
  for (index, series) in plot.series.enumerated() {
    for (x, y) in zip(series.x, series.y) {
      guard let column = PlotAxis.coordinate(x, .linear),
        let row = PlotAxis.coordinate(y, plot.yScale)
      else { continue }
      grid[height - 1 - cell(row, ys, height)][cell(column, xs, width)] =
        marks[index % marks.count]
    }
  }
  let top = String(format: "%.4g", maxY)
  let bottom = String(format: "%.4g", minY)
  let margin = max(top.count, bottom.count)
  var text = plot.title.isEmpty ? "" : plot.title + "\n"
  for (row, cells) in grid.enumerated() {
    let label = row == 0 ? top : (row == height - 1 ? bottom : "")
    text +=
      label.padding(toLength: margin, withPad: " ", startingAt: 0) + " ┤" + String(cells) + "\n"
  }
  text += String(repeating: " ", count: margin) + " └" + String(repeating: "─", count: width) + "\n"
  let axis =
    String(format: "%.4g", minX) + " … " + String(format: "%.4g", maxX)
    + (plot.xLabel.isEmpty ? "" : "  (\(plot.xLabel))")
    + (plot.yScale == .log ? "  y on a log scale" : "")
  text += String(repeating: " ", count: margin + 2) + axis + "\n"
  text +=
    plot.series.enumerated().map { "\(marks[$0.offset % marks.count]) \($0.element.name)" }
    .joined(separator: "   ") + "\n"
  return text
}
