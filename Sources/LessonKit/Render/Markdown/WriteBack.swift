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
  let lines = lesson.document.lines
  let assetsFolder = RecordedOutputs.assetsFolder(of: lesson)
  let recorded = RecordedOutputs(lesson)
  let outputs = Dictionary(
    result.cells.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
  var assets: [(String, String)] = []
  let numbers = lesson.cellNumbers
  var edits: [LessonDocument.Edit] = []
  for cell in lesson.executableCells {
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
        let cellName = numbers[cell.index].map { "cell-\($0)" } ?? "hidden-line-\(cell.fenceLine)"
        let file = "\(assetsFolder)/\(cellName)-plot-\(index + 1).svg"
        assets.append((file, renderSVG(plot)))
        block += ["", "![\(plot.title.isEmpty ? "plot" : plot.title)](\(file))"]
      }
    }
    // A cell whose fence is never closed runs to the end of its container: a block put
    // after it would become part of its code. Close it first, as its author meant to.
    if !block.isEmpty, let fence = missingClosingFence(cell, lines: lines) {
      block.insert(fence, at: 0)
    }
    edits.append(LessonDocument.Edit(recorded.region(after: cell), with: block))
  }
  return (lesson.document.applying(edits), assets)
}

/// The fence that would close `cell` (its opening run of backticks or tildes) when its
/// block is not closed, or `nil` when it is.
func missingClosingFence(_ cell: Cell, lines: [Substring]) -> String? {
  guard cell.fenceLine >= 1, cell.fenceLine <= lines.count else { return nil }
  let opening = lines[cell.fenceLine - 1].drop { $0 == " " }
  guard let mark = opening.first, mark == "`" || mark == "~" else { return nil }
  let fence = String(opening.prefix { $0 == mark })
  if cell.endLine > cell.fenceLine, cell.endLine <= lines.count {
    let last = lines[cell.endLine - 1].trimmingCharacters(in: .whitespaces)
    if last.count >= fence.count, last.allSatisfy({ $0 == mark }) { return nil }
  }
  return String(lines[cell.fenceLine - 1].prefix { $0 == " " }) + fence
}

/// What an earlier `--write` put after a lesson's cells: the `output` block right after
/// each, and the links to its plots in the lesson's assets folder, with the blank lines
/// between them. Found in the document's blocks.
struct RecordedOutputs {
  private let lesson: Lesson
  private let assetsFolder: String
  private let lines: [Substring]

  init(_ lesson: Lesson) {
    self.lesson = lesson
    self.assetsFolder = Self.assetsFolder(of: lesson)
    self.lines = lesson.document.lines
  }

  /// `LESSON.assets`, where `--write` puts the plots of `LESSON.md`.
  static func assetsFolder(of lesson: Lesson) -> String {
    URL(fileURLWithPath: lesson.path).deletingPathExtension().lastPathComponent + ".assets"
  }

  /// The lines (0-based, half-open) after `cell` that an earlier `--write` owns: blank
  /// lines, an `output` block, and plot links. Empty, right after the cell, when there
  /// are none.
  func region(after cell: Cell) -> Range<Int> {
    let start = cell.endLine  // the 0-based index of the line after the closing fence
    var end = start
    let blocks = lesson.document.blocks
    var next = blocks.firstIndex { $0.lines.lowerBound > cell.endLine } ?? blocks.count
    // Only blank lines may stand between what `--write` owns.
    func follows(_ block: LessonDocument.Block) -> Bool {
      lines[end..<(block.lines.lowerBound - 1)].allSatisfy {
        $0.trimmingCharacters(in: .whitespaces).isEmpty
      }
    }
    if next < blocks.count, case .code(let info, _) = blocks[next].kind,
      info.split(whereSeparator: \.isWhitespace).first == "output", follows(blocks[next])
    {
      end = blocks[next].lines.upperBound
      next += 1
    }
    while next < blocks.count, isPlotLink(blocks[next]), follows(blocks[next]) {
      end = blocks[next].lines.upperBound
      next += 1
    }
    return start..<end
  }

  /// The plot links `--write` added after the lesson's cells: each link's line (0-based)
  /// and the file it names.
  var plotLinks: [(line: Int, file: String)] {
    lesson.executableCells.flatMap { cell in
      let region = region(after: cell)
      return lesson.document.blocks.compactMap { block -> (Int, String)? in
        guard region.contains(block.lines.lowerBound - 1), isPlotLink(block),
          case .image(let url) = block.kind
        else { return nil }
        return (block.lines.lowerBound - 1, url)
      }
    }
  }

  /// Whether `block` is a link on a line of its own to an image in the assets folder.
  private func isPlotLink(_ block: LessonDocument.Block) -> Bool {
    guard case .image(let url) = block.kind, block.lines.count == 1 else { return false }
    return url.hasPrefix(assetsFolder + "/") && lines[block.lines.lowerBound - 1].hasPrefix("![")
  }
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

/// Writes the lesson with its recorded outputs, atomically, and its plots beside it,
/// without losing anything written to the file while the lesson ran.
///
/// The file is read again just before writing. When it changed since the run started (a
/// lesson can run for minutes, and its author keeps editing), the outputs are merged into
/// the new text if every cell that ran is still there unchanged, in the same order; prose,
/// other code blocks and whole new paragraphs are kept. If a cell that ran was edited,
/// added or removed, its outputs no longer describe the file, so nothing is written and the
/// error says which cell changed. The file is compared once more right before the atomic
/// replace, so an edit saved during the merge is not overwritten either.
///
/// - Throws: `LessonError` naming the file (and the changed cell's line) when the outputs
///   cannot be merged, or when the file keeps changing.
public func writeOutputs(_ lesson: Lesson, _ result: RunResult) throws {
  let url = URL(fileURLWithPath: lesson.path)
  for _ in 0..<3 {
    // Compared and merged with "\n" endings, as the lesson was parsed; written back with
    // the file's own.
    let raw = try currentText(of: url, lesson: lesson)
    let ending = LineEnding(of: raw)
    guard ending != .mixed else {
      throw LessonError(
        file: lesson.path,
        "mixes \\n and \\r\\n line endings, and writing the outputs would change some of "
          + "them; nothing was written: save the file with one kind")
    }
    let current = withNewlineEndings(raw)
    let (target, outputs) =
      current == lesson.text ? (lesson, result) : try merged(lesson, result, into: current)
    let (written, assets) = writeBack(target, outputs)
    let text = ending == .lf ? written : written.replacingOccurrences(of: "\n", with: "\r\n")
    // The narrowest window we can leave: an edit saved after this comparison and before the
    // rename would be replaced, and no portable call closes it.
    if text != raw, try currentText(of: url, lesson: lesson) != raw { continue }
    let folder = url.deletingLastPathComponent()
    for (file, svg) in assets {
      let asset = folder.appendingPathComponent(file)
      try FileManager.default.createDirectory(
        at: asset.deletingLastPathComponent(), withIntermediateDirectories: true)
      try svg.write(to: asset, atomically: true, encoding: .utf8)
    }
    if text != raw { try text.write(to: url, atomically: true, encoding: .utf8) }
    removeStalePlots(linkedBy: target, keeping: Set(assets.map(\.0)), in: folder)
    return
  }
  throw LessonError(
    file: lesson.path,
    "kept changing while its outputs were being written; nothing was written, run it again")
}

/// Deletes the plot files that an earlier `--write` linked from `lesson` and this one did
/// not write again (a cell that no longer plots, or one whose number changed). Only names
/// that `--write` itself makes are touched.
private func removeStalePlots(linkedBy lesson: Lesson, keeping written: Set<String>, in folder: URL)
{
  for file in RecordedOutputs(lesson).plotLinks.map(\.file) {
    let name = URL(fileURLWithPath: file).lastPathComponent
    guard file.hasSuffix(".svg"), !written.contains(file), !file.contains(".."),
      name.range(of: #"^(cell-\d+|hidden-line-\d+)-plot-\d+\.svg$"#, options: .regularExpression)
        != nil
    else { continue }
    try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
  }
}

/// The file's text now.
private func currentText(of url: URL, lesson: Lesson) throws -> String {
  guard let data = FileManager.default.contents(atPath: url.path) else {
    throw LessonError(file: lesson.path, "disappeared while the lesson ran; nothing was written")
  }
  guard let text = String(data: data, encoding: .utf8) else {
    throw LessonError(
      file: lesson.path, "is no longer valid UTF-8 after an edit; nothing was written")
  }
  return text
}

/// The lesson as it is now, with the run's outputs moved to its cells, when every cell that
/// ran is still there, unchanged and in order.
private func merged(_ lesson: Lesson, _ result: RunResult, into text: String) throws -> (
  Lesson, RunResult
) {
  let edited: Lesson
  do {
    edited = try Lesson(parsing: text, path: lesson.path, checkingReferences: false)
  } catch {
    throw LessonError(
      file: lesson.path,
      "changed while the lesson ran and no longer parses (\(error)); the outputs were not "
        + "written, so nothing you wrote is lost")
  }
  // The cells whose code ran: those at executed positions, and the solutions run in place
  // of exercises.
  func ran(_ lesson: Lesson) -> [Cell] {
    lesson.cells.filter {
      if case .solution = $0.role { return true } else { return $0.role.isExecuted }
    }
  }
  let before = ran(lesson)
  let after = ran(edited)
  for (old, new) in zip(before, after) where old.source != new.source || old.role != new.role {
    throw LessonError(
      file: lesson.path, line: new.fenceLine,
      "this cell changed while the lesson ran, so its output would not match it; the outputs "
        + "were not written (nothing you wrote is lost): run the lesson again")
  }
  guard before.count == after.count else {
    let line = (after.count > before.count ? after[before.count] : after.last)?.fenceLine
    throw LessonError(
      file: lesson.path, line: line,
      "cells that run were \(after.count > before.count ? "added" : "removed") while the "
        + "lesson ran; the outputs were not written (nothing you wrote is lost): run it again")
  }
  // Cell indices count every code block; map each old one to the same cell in the new text.
  let index = Dictionary(uniqueKeysWithValues: zip(before.map(\.index), after.map(\.index)))
  var moved = result
  moved.cells = result.cells.map { output in
    var output = output
    output.cell = index[output.cell] ?? output.cell
    output.codeCell = index[output.codeCell] ?? output.codeCell
    return output
  }
  return (edited, moved)
}
