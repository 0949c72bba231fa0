import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons progress`: where a learner stands in a workbook.
struct Progress: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show each lesson's solved exercises in this workbook, and the next one to do.",
    discussion: "An exercise counts as solved when its last `lessons check` (or `watch`) "
      + "passed every check of it.")

  func run() throws { try reportingLessonErrors(show) }

  private func show() throws {
    let (folder, workbook) = try currentWorkbook(for: "progress")
    let standing = WorkbookStanding(workbook: workbook, folder: folder)
    let lessons = Dictionary(grouping: standing.exercises, by: \.lesson)
    let width = lessons.keys.map(\.count).max() ?? 0
    for name in lessons.keys.sorted() {
      let exercises = lessons[name]!
      let solved = exercises.filter(\.solved).count
      let mark = solved == exercises.count ? "  ✓" : ""
      print(
        name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
          + "\(solved)/\(exercises.count)\(mark)")
    }
    print("\n" + standing.summary + "\n" + standing.nextLine)
  }
}
