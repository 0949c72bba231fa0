import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons hint LESSON.md ID`: reveals an exercise's next hint, and remembers how many
/// were shown.
struct Hint: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the next hint of an exercise.",
    discussion: """
      Hints are the lesson's ```hint for=ID``` blocks, revealed one at a time in the order \
      they stand. How many were shown is remembered per lesson file, in the user's cache \
      folder. Without ID, lists the exercises and their hints.
      """)

  @Argument(help: "The lesson: a path, or a name in Lessons/.") var lesson: String
  @Argument(help: "The exercise's id.") var exercise: String?
  @Flag(help: "Forget the hints shown, for this exercise (or the whole lesson without one).")
  var reset = false

  func run() throws {
    let path = resolveLesson(lesson)
    let parsed: Lesson
    do {
      parsed = try Lesson(contentsOf: path, checkingReferences: false)
    } catch {
      printError("\(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
    let exercises = parsed.cells.compactMap { cell -> String? in
      if case .exercise(let id, _) = cell.role { return id } else { return nil }
    }
    var progress = HintProgress()
    guard let exercise else {
      if reset {
        for id in exercises { progress.set(0, lesson: path, exercise: id) }
        try save(progress)
        print("\(path): the hints of every exercise are hidden again")
        return
      }
      listHints(parsed, exercises: exercises, progress: progress)
      return
    }
    guard exercises.contains(exercise) else {
      printError(
        "\(path): error: no exercise '\(exercise)'"
          + (exercises.isEmpty
            ? "; the lesson has none" : "; exercises: \(exercises.joined(separator: ", "))"))
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
    let hints = parsed.hints(for: exercise)
    if reset {
      progress.set(0, lesson: path, exercise: exercise)
      try save(progress)
      print("\(path): the hints of '\(exercise)' are hidden again")
      return
    }
    guard !hints.isEmpty else {
      print("Exercise '\(exercise)' has no hints. Its checks say what they expect when they fail.")
      return
    }
    let before = progress.count(lesson: path, exercise: exercise)
    let shown = min(before + 1, hints.count)
    progress.set(shown, lesson: path, exercise: exercise)
    try save(progress)
    let hint = hints[shown - 1]
    print("Hint \(shown) of \(hints.count) for '\(exercise)' (line \(hint.fenceLine)):\n")
    print(hint.source.trimmingCharacters(in: .newlines))
    print(
      shown < hints.count
        ? "\nRun the same command again for hint \(shown + 1)."
        : "\nThat was the last hint" + (before >= hints.count ? " (shown again)." : "."))
  }

  private func listHints(_ lesson: Lesson, exercises: [String], progress: HintProgress) {
    guard !exercises.isEmpty else {
      print("\(lesson.path) has no exercises.")
      return
    }
    for id in exercises {
      let total = lesson.hints(for: id).count
      let shown = min(progress.count(lesson: lesson.path, exercise: id), total)
      print("\(id): " + (total == 0 ? "no hints" : "\(shown) of \(counted(total, "hint")) shown"))
    }
  }

  private func save(_ progress: HintProgress) throws {
    do {
      try progress.save()
    } catch {
      printError(
        "\(progress.file.path): error: the hints shown could not be remembered "
          + "(\(error.localizedDescription))")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }
}
