import ArgumentParser
import Foundation
import LessonKit

/// `lessons export LESSON.md --student -o S.md`: the version of a teacher's lesson to hand
/// out.
struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export a lesson: --student writes the version to hand out to students.")

  @Argument(help: "The teacher's lesson.") var lesson: String
  @Flag(help: "Remove solutions and hidden checks, and record checksums of locked cells.")
  var student = false
  @Flag(help: "A self-contained HTML page (not available yet).") var html = false
  @Option(
    name: .shortAndLong, help: "The output file (default: NAME.student.md beside the lesson).")
  var output: String?

  func validate() throws {
    guard student != html else { throw ValidationError("choose one of --student and --html") }
  }

  func run() throws {
    if html {
      printError("lessons export --html is not available yet")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
    let path = resolveLesson(lesson)
    do {
      let parsed = try readLesson(at: path)
      let destination =
        output ?? (path.hasSuffix(".md") ? String(path.dropLast(3)) : path) + ".student.md"
      try studentVersion(of: parsed).write(toFile: destination, atomically: true, encoding: .utf8)
      print("wrote \(destination)")
    } catch {
      printError("\(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }
}
