import Foundation

/// A cell edited in the served page: the cell (by its fence's line), its new code, and the
/// version of the lesson the page was showing (a hash of the file's text).
public struct CellEdit: Codable, Equatable, Sendable {
  /// The 1-based line of the cell's opening fence.
  public var line: Int
  /// The cell's new code.
  public var source: String
  /// The hash of the lesson text the page was made from (`CellEdit.version(of:)`).
  public var version: String

  /// An edit from its parts.
  public init(line: Int, source: String, version: String) {
    self.line = line
    self.source = source
    self.version = version
  }

  /// The version of a lesson's text, as the page carries it.
  public static func version(of text: String) -> String { stableHash(text) }

  /// What became of an edit.
  public enum Outcome: Equatable, Sendable {
    /// Written: the lesson's new version. (Unchanged code is written too: nothing changes.)
    case written(version: String)
    /// The lesson changed since the page was made (in an editor, another tab): nothing was
    /// written; the page keeps its text, and a copy is kept at `savedAt`.
    case conflict(message: String, savedAt: String)
    /// The edit is not allowed, or names no cell: nothing was written.
    case refused(String)
  }

  /// The cells of `lesson` the page may edit: never a hidden cell or a check; in a
  /// students' version (a hand-out, with its locked-cell manifest), only exercises.
  public static func editableCells(of lesson: Lesson) -> [Cell] {
    let isHandOut = LockedCellManifest(text: lesson.text) != nil
    return lesson.cells.filter { cell in
      switch cell.role {
      case .exercise: return true
      case .code, .solution, .noRun: return cell.language == "swift" && !isHandOut
      case .hidden, .check, .output, .hint, .other: return false
      }
    }
  }

  /// Applies this edit to the lesson at `path` under `--write`'s rules: the file is
  /// replaced atomically, and only when it is still the version the page showed.
  public func apply(toLessonAt path: String) -> Outcome {
    let name = URL(fileURLWithPath: path).lastPathComponent
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
      let lesson = try? Lesson(parsing: text, path: path)
    else { return .refused("\(name) cannot be read as a lesson now; nothing was written") }
    guard Self.version(of: text) == version else {
      let saved = keepBrowserCopy(of: path)
      return .conflict(
        message: "\(name) changed since this page was made (in an editor, or another tab): "
          + "your edit was not written. It is still here, and saved in \(saved ?? "nowhere"); "
          + "the page shows the file's version after the next run.",
        savedAt: saved ?? "")
    }
    guard let cell = lesson.cells.first(where: { $0.fenceLine == line }) else {
      return .refused("\(name) has no cell at line \(line) now; nothing was written")
    }
    guard Self.editableCells(of: lesson).contains(cell) else {
      return .refused(
        "the cell at \(name):\(line) is locked (\(Self.kind(of: cell))): "
          + (LockedCellManifest(text: text) == nil
            ? "hidden cells and checks are edited in the file"
            : "in a students' version only the exercises are yours to edit"))
    }
    let edit = LessonDocument.Edit(
      cell.fenceLine..<(cell.endLine - 1),
      with: source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    let edited = lesson.document.applying([edit])
    // Never over an edit that landed while this one was made.
    guard (try? String(contentsOfFile: path, encoding: .utf8)) == text else {
      return .refused("\(name) changed while the edit was written; nothing was written")
    }
    do {
      try edited.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      return .refused("\(name) could not be written (\(error.localizedDescription))")
    }
    return .written(version: Self.version(of: edited))
  }

  /// The edit's code, kept beside the lesson in `.lessons-backup/` when it could not be
  /// written: nothing the learner typed is lost, even if the page is closed.
  private func keepBrowserCopy(of path: String) -> String? {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
      .appendingPathComponent(".lessons-backup")
    let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    let stamp = Int(Date().timeIntervalSince1970 * 1000)
    let file = folder.appendingPathComponent("\(name).line-\(line).browser-\(stamp).swift")
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try source.write(to: file, atomically: true, encoding: .utf8)
      return file.path
    } catch {
      return nil
    }
  }

  private static func kind(of cell: Cell) -> String {
    switch cell.role {
    case .hidden: return "a hidden cell"
    case .check: return "a check"
    case .code: return "the lesson's own code"
    default: return "not code"
    }
  }
}
