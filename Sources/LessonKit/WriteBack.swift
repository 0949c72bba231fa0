import Foundation

/// A cell's outputs as plain text for a recorded `output` block: what it printed (terminal
/// colour codes removed), its tables aligned, its checks as ✓/✗ lines, each progress bar's
/// final line. Plots are returned separately, to be written as SVG files.
func recordedText(_ output: CellOutput) -> String {
  let renderer = TerminalRenderer(color: false, showTiming: false)
  var withoutPlots = output
  let kept = output.events.indices.filter {
    if case .plot = output.events[$0] { return false } else { return true }
  }
  withoutPlots.events = kept.map { output.events[$0] }
  withoutPlots.eventOffsets = kept.map {
    $0 < output.eventOffsets.count ? output.eventOffsets[$0] : Int.max
  }
  return withoutTerminalCodes(renderer.render(withoutPlots))
}

/// The lesson's text with an `output` block after each cell that printed something, and
/// links to SVG files for its plots, replacing the blocks and links an earlier `--write`
/// put there. Prose and code are untouched, so writing twice changes nothing.
///
/// - Returns: the new text, and the SVG files to write (relative path and contents).
public func writeBack(_ lesson: Lesson, _ result: RunResult) -> (
  text: String, assets: [(String, String)]
) {
  var lines = lesson.text.components(separatedBy: "\n")
  let lessonName = URL(fileURLWithPath: lesson.path).deletingPathExtension().lastPathComponent
  let assetsFolder = lessonName + ".assets"
  let outputs = Dictionary(
    result.cells.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
  var assets: [(String, String)] = []
  var number = 0
  var edits: [(range: Range<Int>, replacement: [String])] = []
  for cell in lesson.executableCells {
    number += 1
    let region = managedRegion(after: cell, in: lesson, lines: lines, assetsFolder: assetsFolder)
    var block: [String] = []
    if let output = outputs[cell.index] {
      let text = recordedText(output)
      if !text.isEmpty {
        let fence = String(repeating: "`", count: max(3, longestBacktickRun(text) + 1))
        block +=
          ["", fence + "output"]
          + text.dropLast(text.hasSuffix("\n") ? 1 : 0)
          .components(separatedBy: "\n") + [fence]
      }
      let plots = output.events.compactMap { event -> Plot? in
        if case .plot(let plot) = event { return plot } else { return nil }
      }
      for (index, plot) in plots.enumerated() {
        let file = "\(assetsFolder)/cell-\(number)-plot-\(index + 1).svg"
        assets.append((file, renderSVG(plot)))
        block += ["", "![\(plot.title.isEmpty ? "plot" : plot.title)](\(file))"]
      }
    }
    edits.append((region, block))
  }
  for edit in edits.reversed() {
    lines.replaceSubrange(edit.range, with: edit.replacement)
  }
  return (lines.joined(separator: "\n"), assets)
}

/// The 0-based lines holding plot links that `--write` added after the lesson's cells.
func recordedPlotLinks(in lesson: Lesson) -> [Int] {
  let lines = lesson.text.components(separatedBy: "\n")
  let name = URL(fileURLWithPath: lesson.path).deletingPathExtension().lastPathComponent
  return lesson.executableCells.flatMap { cell in
    managedRegion(after: cell, in: lesson, lines: lines, assetsFolder: name + ".assets")
      .filter { lines[$0].hasPrefix("![") }
  }
}

/// The lines (0-based, half-open) after `cell` that an earlier `--write` owns: blank lines,
/// an `output` block, and image links into the lesson's assets folder. Empty, right after
/// the cell, when there are none.
private func managedRegion(
  after cell: Cell, in lesson: Lesson, lines: [String], assetsFolder: String
) -> Range<Int> {
  let start = cell.endLine  // the 0-based index of the line after the closing fence
  var end = start
  var cursor = start
  func skipBlank() {
    while cursor < lines.count && lines[cursor].trimmingCharacters(in: .whitespaces).isEmpty {
      cursor += 1
    }
  }
  skipBlank()
  if let output = lesson.cells.first(where: { $0.fenceLine == cursor + 1 }), output.role == .output
  {
    cursor = output.endLine
    end = cursor
    skipBlank()
  }
  while cursor < lines.count, lines[cursor].hasPrefix("!["),
    lines[cursor].contains("](\(assetsFolder)/")
  {
    cursor += 1
    end = cursor
    skipBlank()
  }
  return start..<end
}

private func longestBacktickRun(_ text: String) -> Int {
  var longest = 0
  var current = 0
  for character in text {
    current = character == "`" ? current + 1 : 0
    longest = max(longest, current)
  }
  return longest
}

/// Writes the lesson with its recorded outputs, atomically, and its plots beside it.
public func writeOutputs(_ lesson: Lesson, _ result: RunResult) throws {
  let (text, assets) = writeBack(lesson, result)
  let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent()
  for (file, svg) in assets {
    let url = folder.appendingPathComponent(file)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try svg.write(to: url, atomically: true, encoding: .utf8)
  }
  if text != lesson.text {
    try text.write(to: URL(fileURLWithPath: lesson.path), atomically: true, encoding: .utf8)
  }
}
