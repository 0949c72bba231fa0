import ArgumentParser
import LessonsCLI

/// `lessons-grade`: `lessons grade`, `lessons gradebook` and `lessons check`, built apart from `lessons` so
/// that only grading waits for swift-syntax.
struct LessonsGrade: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lessons", abstract: "Grade lessons against a teacher's key.",
    subcommands: [Grade.self, Gradebook.self, Check.self])
}

LessonsGrade.mainWithLessonExitCodes()
