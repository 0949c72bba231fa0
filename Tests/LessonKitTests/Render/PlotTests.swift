import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

@Suite("plots and cell numbers")
struct PlotTests {
  /// A loss falling from 25 to 2.5e-9 over ten decades.
  let falling = Plot(
    title: "loss", xLabel: "step", yLabel: "MSE",
    series: [
      Series(
        "MSE", x: (0..<11).map(Double.init), y: (0..<11).map { 25 * pow(0.1, Double($0)) })
    ])

  @Test func logScaleSpreadsDecadesOverTheTerminalChart() {
    var linear = falling
    linear.yScale = .linear
    var logarithmic = falling
    logarithmic.yScale = .log
    func rowsUsed(_ chart: String) -> Int {
      chart.split(separator: "\n").filter { $0.contains("┤") && $0.contains("●") }.count
    }
    // Linear: every point after the first lies on the bottom row or the one above it.
    #expect(rowsUsed(unicodeChart(linear)) <= 3)
    // Log: one point per decade, ten rows, so every row is used.
    #expect(rowsUsed(unicodeChart(logarithmic)) == 10)
    #expect(unicodeChart(logarithmic).contains("y on a log scale"))
  }

  @Test func logAxisTicksArePowersOfTen() {
    let axis = PlotAxis(falling.series[0].y, scale: .log, targetTicks: 12)
    #expect(axis.ticks.first == 1e-9 && axis.ticks.last == 100)
    #expect(axis.ticks.allSatisfy { log10($0).rounded() == log10($0) })
    var logarithmic = falling
    logarithmic.yScale = .log
    let svg = renderSVG(logarithmic)
    #expect(svg.contains(">MSE (log scale)</text>"))
    #expect(svg.contains(">1e-08</text>") || svg.contains(">1e-09</text>"))
  }

  @Test func valuesThatCannotBeDrawnNeverTrap() {
    let extremes: [Double] = [
      .nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
      .leastNonzeroMagnitude, 0, -1,
    ]
    for scale in [PlotScale.linear, .log] {
      for first in extremes {
        for second in extremes {
          let plot = Plot(
            title: "", xLabel: "", yLabel: "",
            series: [Series("", x: [first, second, 1], y: [second, first, 2])],
            yScale: scale)
          #expect(renderSVG(plot).hasSuffix("</svg>\n"))
          #expect(!unicodeChart(plot).isEmpty)
        }
      }
    }
    #expect(unicodeChart(Plot(title: "", xLabel: "", yLabel: "", series: [])) == "(empty plot)\n")
  }

  @Test func progressBarsPastTheirTotalOrNegativeStillDraw() {
    for (done, total) in [(5, 3), (-5, 3), (Int.max, 1), (Int.min, Int.max), (1, -1), (0, 0)] {
      let line = progressLine(label: "steps", done: done, total: total, seconds: 1)
      #expect(line.contains("\(done)/\(total)"))
      #expect(line.filter { $0 == "█" || $0 == "░" }.count == 24)
      #expect(
        eventHTML(.progress(label: "", done: done, total: total, seconds: .nan)).contains("%"))
    }
  }

  @Test func aLongTitleWrapsAndALongLegendIsShortenedInANarrowChart() {
    let plot = Plot(
      title: "Fine-tuning the char-level GPT on Tiny Shakespeare at rank eight",
      xLabel: "step", yLabel: "loss",
      series: [Series(String(repeating: "validation ", count: 8), x: [0, 1], y: [1, 2])])
    let svg = renderSVG(plot, width: 360, height: 280)
    #expect(svg.components(separatedBy: "font-weight=\"bold\"").count - 1 >= 2)
    #expect(svg.contains("…</text>"))
  }

  /// The terminal's `[N]`, the JSON report's `cell` and plot file names count the shown
  /// cells from 1; the hidden cell between them takes no number.
  @Test func terminalAndJSONNumberCellsAlike() throws {
    let folder = try EndToEndTests().copyFixture("ok")
    defer { try? FileManager.default.removeItem(at: folder) }
    let terminal = try lessons(["run", "lesson.md"], in: folder)
    #expect(terminal.stdout.contains("── [1] line 5"))
    #expect(terminal.stdout.contains("── [2] line 14"))
    #expect(!terminal.stdout.contains("[3]"))
    let json = try lessons(["run", "lesson.md", "--json"], in: folder)
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let cells = try #require(document["cells"] as? [[String: Any]])
    let shown = cells.filter { $0["hidden"] as? Bool == false }
    #expect(shown.map { $0["cell"] as? Int } == [1, 2])
    #expect(shown.map { $0["line"] as? Int } == [5, 14])
    #expect(cells.filter { $0["hidden"] as? Bool == true }.allSatisfy { $0["cell"] is NSNull })
  }

  /// A cell added above a plot renumbers it: the next `--write` links the new file and
  /// deletes the one it wrote before, and leaves files it did not make alone.
  @Test func aRenumberedPlotLeavesNoStaleFile() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plots-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let lesson = folder.appendingPathComponent("lesson.md")
    let plotCell = "```swift\nplot([Series(\"loss\", [3, 2, 1])], title: \"Loss\")\n```\n"
    try ("# Plots\n\n" + plotCell).write(to: lesson, atomically: true, encoding: .utf8)
    #expect(try lessons(["run", "lesson.md", "--write"], in: folder).status == 0)
    let assets = folder.appendingPathComponent("lesson.assets")
    try "mine".write(
      to: assets.appendingPathComponent("notes.svg"), atomically: true, encoding: .utf8)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: assets.path).sorted() == [
        "cell-1-plot-1.svg", "notes.svg",
      ])
    let text = try String(contentsOf: lesson, encoding: .utf8)
    try text.replacingOccurrences(of: "# Plots\n", with: "# Plots\n\n```swift\nprint(1)\n```\n")
      .write(to: lesson, atomically: true, encoding: .utf8)
    #expect(try lessons(["run", "lesson.md", "--write"], in: folder).status == 0)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: assets.path).sorted() == [
        "cell-2-plot-1.svg", "notes.svg",
      ])
    #expect(
      try String(contentsOf: lesson, encoding: .utf8).contains("(lesson.assets/cell-2-plot-1.svg)"))
  }
}
