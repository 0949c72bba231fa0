import ArgumentParser
import Foundation
import LessonKit

/// The `lessons` command: run Markdown lessons as Swift programs.
@main
struct Lessons: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Markdown lessons on LoRA: their swift cells compile into one program.",
    subcommands: [Run.self, Export.self, Grade.self, List.self])

  /// Runs the command, with bad arguments exiting 2 (could not run) as the exit-code
  /// contract says, rather than ArgumentParser's 64.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == .validationFailure {
        printError(fullMessage(for: error))
        Foundation.exit(LessonExit.couldNotRun.rawValue)
      }
      exit(withError: error)
    }
  }
}

/// A lesson path, trying `Lessons/NAME` when `NAME` itself does not exist.
func resolveLesson(_ name: String) -> String {
  if FileManager.default.fileExists(atPath: name) { return name }
  let inLessons = "Lessons/" + name
  return FileManager.default.fileExists(atPath: inLessons) ? inLessons : name
}

/// Prints to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}
