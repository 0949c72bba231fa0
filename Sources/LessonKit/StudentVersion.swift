import Foundation

/// The student's version of a teacher's lesson: solutions and hidden checks removed, with
/// the recorded outputs that would give them away; hint blocks folded in `<details>`, so
/// that a Markdown viewer shows them closed (`lessons hint` still finds them); and a
/// manifest of checksums of every locked cell (everything but the exercises), so that the
/// grader can tell when a student changed one, as nbgrader does.
public func studentVersion(of lesson: Lesson) -> String {
  var lines = lesson.text.components(separatedBy: "\n")
  var removals: [Range<Int>] = []
  var insertions: [(line: Int, lines: [String])] = []
  for cell in lesson.cells {
    guard case .hint(let id) = cell.role, !isFolded(cell, in: lines) else { continue }
    let number = lesson.hintNumber(of: cell) ?? 1
    insertions.append(
      (
        cell.fenceLine - 1,
        ["<details><summary>Hint \(number) for <code>\(id)</code></summary>", ""]
      ))
    insertions.append((cell.endLine, ["", "</details>"]))
  }
  for (position, cell) in lesson.cells.enumerated() {
    let removeCell: Bool
    switch cell.role {
    case .solution, .check(_, hidden: true): removeCell = true
    default: removeCell = false
    }
    // An output block after an exercise shows what the solution printed.
    let next = position + 1 < lesson.cells.count ? lesson.cells[position + 1] : nil
    let outputFollows =
      next?.role == .output
      && lines[cell.endLine..<(next!.fenceLine - 1)].allSatisfy {
        $0.trimmingCharacters(in: .whitespaces).isEmpty
      }
    var isExercise = false
    if case .exercise = cell.role { isExercise = true }
    if removeCell || isExercise, outputFollows, let next {
      removals.append(cell.endLine..<next.endLine)
    }
    if removeCell {
      // The cell and the blank lines before it.
      var start = cell.fenceLine - 1
      while start > 0 && lines[start - 1].trimmingCharacters(in: .whitespaces).isEmpty {
        start -= 1
      }
      removals.append(start..<cell.endLine)
    }
  }
  // From the bottom up, so that each edit leaves the lines above it where they were; at one
  // line, a removal before an insertion, which would otherwise remove what was inserted.
  let edits =
    removals.map { (range: $0, lines: [String]()) }
    + insertions.map { (range: $0.line..<$0.line, lines: $0.lines) }
  let ordered = edits.sorted {
    ($0.range.lowerBound, $0.range.count) > ($1.range.lowerBound, $1.range.count)
  }
  for edit in ordered {
    lines.replaceSubrange(edit.range.clamped(to: 0..<lines.count), with: edit.lines)
  }
  lines = withoutRecordedPlots(lines, lessonPath: lesson.path)
  var text = lines.joined(separator: "\n")
  if !text.hasSuffix("\n") { text += "\n" }
  let studentCells = (try? parseLesson(text, path: lesson.path))?.cells ?? []
  return text + "\n" + LockedCellManifest(cells: studentCells).comment + "\n"
}

/// Whether a hint block already stands inside `<details>` (a student version exported
/// again).
private func isFolded(_ cell: Cell, in lines: [String]) -> Bool {
  var above = cell.fenceLine - 2
  while above >= 0 && lines[above].trimmingCharacters(in: .whitespaces).isEmpty { above -= 1 }
  return above >= 0 && lines[above].hasPrefix("<details")
}

/// `lines` without the image links that `--write` made to the key's plots
/// (`![title](LESSON.assets/cell-6-plot-1.svg)`), and the blank line before each: the
/// student does not have that folder, and their own `--write` draws their plots.
private func withoutRecordedPlots(_ lines: [String], lessonPath: String) -> [String] {
  let name = URL(fileURLWithPath: lessonPath).deletingPathExtension().lastPathComponent
  var kept: [String] = []
  for line in lines {
    if line.hasPrefix("!["), line.hasSuffix(")"), line.contains("](\(name).assets/") {
      if kept.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { kept.removeLast() }
      continue
    }
    kept.append(line)
  }
  return kept
}

/// Checksums of a lesson's locked cells, in order, kept in an HTML comment that Markdown
/// viewers do not show.
public struct LockedCellManifest: Equatable, Sendable {
  static let prefix = "<!-- lessons: locked cells "
  /// One checksum per locked cell, in document order.
  public var checksums: [String]

  init(checksums: [String]) {
    self.checksums = checksums
  }

  /// The manifest of a lesson's cells.
  init(cells: [Cell]) {
    checksums = cells.filter(isLocked).map(checksum)
  }

  /// Reads the manifest from a submission's text, if it has one.
  public init?(text: String) {
    guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix(Self.prefix) }) else {
      return nil
    }
    checksums = line.dropFirst(Self.prefix.count).split(separator: " ").dropLast().map(String.init)
  }

  var comment: String { Self.prefix + checksums.joined(separator: " ") + " -->" }
}

/// Whether a student may not change the cell: every executed cell but the exercises.
public func isLocked(_ cell: Cell) -> Bool {
  switch cell.role {
  case .code, .hidden, .check: return true
  default: return false
  }
}

/// A checksum of a cell's role and code, ignoring trailing whitespace on each line.
public func checksum(_ cell: Cell) -> String {
  let code = cell.source.split(separator: "\n", omittingEmptySubsequences: false)
    .map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
    .joined(separator: "\n")
  return stableHash("\(cell.role)\n\(code)")
}
