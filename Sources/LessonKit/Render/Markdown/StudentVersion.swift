import Foundation

/// The student's version of a teacher's lesson: solutions and hidden checks removed, with
/// the recorded outputs that would give them away; hint blocks folded in `<details>`, so
/// that a Markdown viewer shows them closed (`lessons hint` still finds them); and a
/// manifest of checksums of every locked cell (everything but the exercises), so that the
/// grader can tell when a student changed one, as nbgrader does.
public func studentVersion(of lesson: Lesson) -> String {
  let lines = lesson.document.lines
  let isBlank = { (line: Int) in lines[line].trimmingCharacters(in: .whitespaces).isEmpty }
  var edits: [LessonDocument.Edit] = []
  for cell in lesson.cells {
    guard case .hint(let id) = cell.role, !isFolded(cell, in: lines) else { continue }
    let number = lesson.hintNumber(of: cell) ?? 1
    edits.append(
      .insert(
        ["<details><summary>Hint \(number) for <code>\(id)</code></summary>", ""],
        before: cell.fenceLine - 1))
    edits.append(.insert(["", "</details>"], before: cell.endLine))
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
      next?.role == .output && (cell.endLine..<(next!.fenceLine - 1)).allSatisfy(isBlank)
    var isExercise = false
    if case .exercise = cell.role { isExercise = true }
    if removeCell || isExercise, outputFollows, let next {
      edits.append(.remove(cell.endLine..<next.endLine))
    }
    if removeCell {
      // The cell and the blank lines before it.
      var start = cell.fenceLine - 1
      while start > 0 && isBlank(start - 1) { start -= 1 }
      edits.append(.remove(start..<cell.endLine))
    }
  }
  // The links `--write` made to the key's plots (`![title](LESSON.assets/cell-6-plot-1.svg)`),
  // and the blank line before each: the student does not have that folder, and their own
  // `--write` draws their plots.
  let assets = RecordedOutputs.assetsFolder(of: lesson) + "/"
  for block in lesson.document.blocks {
    guard case .image(let url) = block.kind, url.hasPrefix(assets), block.lines.count == 1
    else { continue }
    let line = block.lines.lowerBound - 1
    edits.append(.remove((line > 0 && isBlank(line - 1) ? line - 1 : line)..<(line + 1)))
  }
  var text = lesson.document.applying(edits)
  if !text.hasSuffix("\n") { text += "\n" }
  let studentCells = (try? Lesson(parsing: text, path: lesson.path))?.cells ?? []
  return text + "\n" + LockedCellManifest(cells: studentCells).comment + "\n"
}

/// Whether a hint block already stands inside `<details>` (a student version exported
/// again).
private func isFolded(_ cell: Cell, in lines: [Substring]) -> Bool {
  var above = cell.fenceLine - 2
  while above >= 0 && lines[above].trimmingCharacters(in: .whitespaces).isEmpty { above -= 1 }
  return above >= 0 && lines[above].hasPrefix("<details")
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
