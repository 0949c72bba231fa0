import ArgumentParser
import LessonsCLI

/// `lessons-serve`: `lessons serve`, built apart from `lessons` so that only the live page
/// waits for the web server to build.
struct LessonsServe: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lessons", abstract: "Serve lessons' live pages.", subcommands: [Serve.self])
}

LessonsServe.mainWithLessonExitCodes()
