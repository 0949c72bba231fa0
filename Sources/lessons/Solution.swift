import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons solution ID`: the course's solution of an exercise, once the learner has tried.
struct Solution: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the course's solution of an exercise you have tried in this workbook.",
    discussion: "Shown only after a check of the exercise has failed at least once "
      + "(`lessons check`), and once you confirm.")

  @Argument(help: "The exercise's id.") var exercise: String
  @Option(help: "The lesson that has it (default: the first that does).") var lesson: String?
  @Flag(help: "Do not ask for confirmation.") var yes = false

  func run() throws { try reportingLessonErrors(show) }

  private func show() throws {
    let (folder, workbook) = try currentWorkbook(for: "solution")
    let standing = WorkbookStanding(workbook: workbook, folder: folder)
    let lessonName = lesson.map { URL(fileURLWithPath: $0).lastPathComponent }
    guard
      let found = standing.exercises.first(where: {
        $0.id == exercise && (lessonName == nil || $0.lesson == lessonName)
      })
    else {
      throw LessonError(
        file: folder,
        "no exercise '\(exercise)'" + (lessonName.map { " in \($0)" } ?? " in the course")
          + "; `lessons progress` lists them")
    }
    let tries = workbook.lessons[found.lesson]?.exercises[exercise]?.failedChecks ?? 0
    guard tries > 0 else {
      throw LessonError(
        file: found.lesson, line: found.line,
        "try '\(exercise)' first: its solution is shown once `lessons check \(found.lesson)` "
          + "has failed one of its checks (stuck? `lessons hint \(found.lesson) \(exercise)`)")
    }
    if !yes {
      guard isatty(0) == 1 else {
        throw LessonError(file: found.lesson, "pass --yes to show the solution without a prompt")
      }
      print("Show the course's solution of '\(exercise)'? [y/N] ", terminator: "")
      guard let answer = readLine(), answer.lowercased().hasPrefix("y") else { return }
    }
    let key = try Lesson(contentsOf: workbook.key(of: found.lesson), checkingReferences: false)
    guard
      let solution = key.cells.first(where: {
        if case .solution(exercise) = $0.role { return true } else { return false }
      })
    else {
      throw LessonError(file: key.path, "has no solution of '\(exercise)'")
    }
    print("The course's solution of '\(exercise)' (\(key.path):\(solution.fenceLine)):\n")
    print(solution.source)
  }
}
