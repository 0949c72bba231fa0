import ArgumentParser
import Foundation
import LessonKit

/// The workbook that holds the current folder, or the reason there is none, said as a
/// learner needs it: how to make one.
///
/// - Throws: `LessonError` outside a workbook, or when its progress file is damaged.
public func currentWorkbook(for command: String) throws -> (folder: String, workbook: Workbook) {
  let here = FileManager.default.currentDirectoryPath
  guard let found = try Workbook.find(from: here) else {
    throw LessonError(
      file: here,
      "not in a workbook: `lessons start` makes one (./lora-workbook by default, the students' "
        + "version of every lesson); run `lessons \(command)` inside it")
  }
  return found
}

/// Records a plain run of `lesson` in its workbook, if it is in one (`watch`, `serve`), and
/// returns the standing to print after the run: "4/11 exercises ███… Next: FILE:LINE".
/// `nil` outside a workbook.
public func recordInWorkbook(_ lesson: Lesson, _ result: RunResult) -> String? {
  let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent().path
  guard let found = try? Workbook.find(from: folder) else { return nil }
  var workbook = found.workbook
  workbook.record(run: result, of: lesson)
  try? workbook.save(in: found.folder)
  let standing = WorkbookStanding(workbook: workbook, folder: found.folder)
  return standing.summary + "\n" + standing.nextLine + "\n"
}

/// The course this package carries: `Lessons/` in the current folder, or beside the
/// package the running `lessons` was built from.
public func defaultCourseFolder() -> String? {
  let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    .appendingPathComponent("Lessons")
  // `PACKAGE/.build/TRIPLE/release/lessons`.
  let package = HelperTool.folder.deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  return [here, package.appendingPathComponent("Lessons")].map(\.path).first { path in
    (try? FileManager.default.contentsOfDirectory(atPath: path))?.contains { $0.hasSuffix(".md") }
      == true
  }
}

/// Runs a command's work, a `LessonError` becoming its message on standard error and exit
/// status 2, as every `lessons` command reports what it could not do.
public func reportingLessonErrors(_ work: () throws -> Void) throws {
  do {
    try work()
  } catch let error as LessonError {
    printError("\(error)")
    throw ExitCode(LessonExit.couldNotRun.rawValue)
  }
}
