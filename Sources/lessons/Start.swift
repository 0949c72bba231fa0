import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons start [DIR]`: a workbook for learning alone.
struct Start: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make a workbook: the students' version of every lesson, to solve on your own.",
    discussion: """
      Writes every lesson of the course without its solutions into DIR, beside the course's \
      data and models, and a progress file that remembers where the course's keys are. Then, \
      inside DIR: `lessons watch LESSON` while you edit, `lessons check LESSON` to grade it, \
      `lessons progress`, `lessons hint LESSON ID`, `lessons solution ID`. A workbook you have \
      edited is never overwritten; --update brings a newer course in and keeps your code.
      """)

  @Argument(help: "The workbook's folder.") var directory = "lora-workbook"
  @Option(help: "The course's folder, where the keys are (default: this package's Lessons/).")
  var course: String?
  @Flag(help: "Bring a newer course into this workbook, keeping your exercise code.")
  var update = false

  func run() throws { try reportingLessonErrors(makeWorkbook) }

  private func makeWorkbook() throws {
    let manager = FileManager.default
    let folder = URL(fileURLWithPath: directory).standardizedFileURL.path
    let progressFile = folder + "/" + Workbook.fileName
    var workbook = try manager.fileExists(atPath: progressFile) ? Workbook.load(progressFile) : nil
    let contents = (try? manager.contentsOfDirectory(atPath: folder)) ?? []
    if workbook == nil && !contents.isEmpty {
      throw LessonError(
        file: folder,
        "is not empty and is not a workbook (it has no \(Workbook.fileName)): "
          + "nothing was written; choose another folder")
    }
    guard let courseFolder = (course ?? workbook?.course.nilIfMissing ?? defaultCourseFolder())
    else {
      throw LessonError(
        file: workbook?.course ?? "Lessons",
        "the course is not there: pass its folder with --course")
    }
    let coursePath = URL(fileURLWithPath: courseFolder).standardizedFileURL.path
    let keys = try courseLessons(in: coursePath)
    var book = workbook ?? Workbook(course: coursePath)
    book.course = coursePath
    // The learner's edits: files that differ from the version this workbook released.
    let edited = keys.map(\.name).filter { name in
      guard let text = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8) else {
        return false
      }
      return stableHash(text) != book.lessons[name]?.released
    }
    if workbook != nil && !update && !edited.isEmpty {
      throw LessonError(
        file: folder,
        "holds your edits (\(edited.joined(separator: ", "))): nothing was written. "
          + "`lessons start \(directory) --update` brings in a newer course and keeps your "
          + "exercise code")
    }
    try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var (kept, unmerged): ([String], [String]) = ([], [])
    for (name, key) in keys {
      let released = studentVersion(of: key)
      let target = folder + "/" + name
      var text = released
      if edited.contains(name) {
        // The learner's file is backed up first, whatever comes of the merge; one that no
        // longer parses is left as it is.
        try backUp(target, in: folder)
        guard let mine = try? Lesson(contentsOf: target, checkingReferences: false) else {
          unmerged.append(name)
          continue
        }
        text = try mergingExercises(of: mine, into: released, path: target)
        kept.append(name)
      }
      try text.write(toFile: target, atomically: true, encoding: .utf8)
      book.lessons[name, default: .init(released: "")].released = stableHash(released)
    }
    for shared in ["data", "models"] where manager.fileExists(atPath: coursePath + "/" + shared) {
      let link = folder + "/" + shared
      if (try? manager.destinationOfSymbolicLink(atPath: link)) != nil {
        try? manager.removeItem(atPath: link)
      }
      if !manager.fileExists(atPath: link) {
        try manager.createSymbolicLink(atPath: link, withDestinationPath: coursePath + "/" + shared)
      }
    }
    workbook = book
    try book.save(in: folder)
    let standing = WorkbookStanding(workbook: book, folder: folder)
    print(
      (update ? "Updated" : "Wrote") + " the workbook \(directory): \(keys.count) lessons, "
        + "\(standing.exercises.count) exercises, from the course in \(coursePath).")
    if !unmerged.isEmpty {
      printError(
        "lessons start: \(unmerged.joined(separator: ", ")) does not parse as a lesson now: "
          + "left as it is, without the newer course (fix it, then --update again)")
    }
    if !kept.isEmpty {
      print(
        "Kept your exercise code in \(kept.joined(separator: ", ")); the files as they were "
          + "are in \(directory)/.lessons-backup/.")
    }
    print(
      """

      cd \(directory)
      lessons watch \(standing.next?.lesson ?? keys[0].name)   # runs it again on every save
      lessons check \(standing.next?.lesson ?? keys[0].name)   # grades it and records your progress
      lessons progress                 # where you stand

      \(standing.nextLine)
      """)
  }

  /// The course's lessons, by file name, in order.
  private func courseLessons(in folder: String) throws -> [(name: String, key: Lesson)] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasSuffix(".md") }.sorted()
    guard !names.isEmpty else {
      throw LessonError(file: folder, "holds no lessons (*.md): is it the course's folder?")
    }
    return try names.map { ($0, try Lesson(contentsOf: folder + "/" + $0)) }
  }
}

/// The released student version `released` with each exercise's code replaced by the
/// learner's code of the same exercise in `mine`.
func mergingExercises(of mine: Lesson, into released: String, path: String) throws -> String {
  let fresh = try Lesson(parsing: released, path: path)
  let edits = fresh.cells.compactMap { cell -> LessonDocument.Edit? in
    guard let id = cell.role.exerciseID,
      let own = mine.cells.first(where: { $0.role.exerciseID == id }), own.source != cell.source
    else { return nil }
    return LessonDocument.Edit(
      cell.fenceLine..<(cell.endLine - 1),
      with: own.source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
  }
  return fresh.document.applying(edits)
}

/// Copies the learner's file into the workbook's `.lessons-backup/`, dated, before it is
/// rewritten: nothing the learner had is lost.
func backUp(_ path: String, in folder: String) throws {
  let backups = folder + "/.lessons-backup"
  try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
  let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
  let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
  // Two backups in one second are numbered, never overwritten.
  var backup = "\(backups)/\(name).\(stamp).md"
  var number = 1
  while FileManager.default.fileExists(atPath: backup) {
    number += 1
    backup = "\(backups)/\(name).\(stamp)-\(number).md"
  }
  try FileManager.default.copyItem(atPath: path, toPath: backup)
}

extension String {
  /// This path, or nil when nothing is there.
  fileprivate var nilIfMissing: String? {
    FileManager.default.fileExists(atPath: self) ? self : nil
  }
}
