import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons reset LESSON [ID]`: the course's stub back in place of the learner's code.
struct Reset: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Put an exercise's stub back in a workbook lesson (every exercise without ID).",
    discussion: "Your code is kept first in the workbook's .lessons-backup/.")

  @Argument(help: "The lesson.") var lesson: String
  @Argument(help: "The exercise's id.") var exercise: String?

  func run() throws { try reportingLessonErrors(reset) }

  private func reset() throws {
    var (folder, workbook) = try currentWorkbook(for: "reset")
    let name = URL(fileURLWithPath: lesson).lastPathComponent
    let path = folder + "/" + name
    let mine = try Lesson(contentsOf: path, checkingReferences: false)
    let key = try Lesson(contentsOf: workbook.key(of: name), checkingReferences: false)
    let stubs = try Lesson(parsing: studentVersion(of: key), path: path).cells
    let targets = mine.cells.filter { cell in
      guard let id = cell.role.exerciseID else { return false }
      return exercise == nil || id == exercise
    }
    guard !targets.isEmpty else {
      throw LessonError(file: path, "has no exercise '\(exercise ?? "")'")
    }
    let edits = targets.compactMap { cell -> LessonDocument.Edit? in
      guard let stub = stubs.first(where: { $0.role.exerciseID == cell.role.exerciseID }) else {
        return nil
      }
      return LessonDocument.Edit(
        cell.fenceLine..<(cell.endLine - 1),
        with: stub.source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    }
    // Never over an edit that landed after the file was read.
    guard (try? String(contentsOfFile: path, encoding: .utf8)) == mine.text else {
      throw LessonError(file: path, "changed while it was being reset: nothing was written")
    }
    try backUp(path, in: folder)
    try mine.document.applying(edits).write(toFile: path, atomically: true, encoding: .utf8)
    for cell in targets {
      if let id = cell.role.exerciseID {
        workbook.lessons[name]?.exercises[id]?.solved = false
      }
    }
    try workbook.save(in: folder)
    let ids = targets.compactMap(\.role.exerciseID)
    print(
      "\(path): the stub of \(ids.map { "'\($0)'" }.joined(separator: ", ")) is back; your code is in .lessons-backup/"
    )
  }
}
