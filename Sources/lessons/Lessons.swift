import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// The `lessons` command: run Markdown lessons as Swift programs.
@main
struct Lessons: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Markdown lessons on LoRA: their swift cells compile into one program.",
    subcommands: [
      Start.self, Run.self, Watch.self, CheckLesson.self, Progress.self, Hint.self,
      Solution.self, Reset.self, Serve.self, Export.self, Grade.self, Gradebook.self, List.self,
      Doctor.self,
    ])

  static func main() { mainWithLessonExitCodes() }
}

/// `lessons serve`, handed to `lessons-serve`, which is built on first use.
struct Serve: ForwardedCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve a lesson's page on localhost and update it live as the lesson changes.",
    discussion: "Built the first time it is used (the web server). `lessons serve --help` "
      + "shows its options.")
  static let helper = HelperTool.serve
  @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
}

/// `lessons grade`, handed to `lessons-grade`, which is built on first use.
struct Grade: ForwardedCommand {
  static let configuration = CommandConfiguration(
    abstract: "Grade a submission, or every submission in a folder, against the teacher's key.",
    discussion: "Built the first time it is used (the grader). `lessons grade --help` shows "
      + "its options.")
  static let helper = HelperTool.grade
  @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
}

/// `lessons check`, handed to `lessons-grade`, which is built on first use.
struct CheckLesson: ForwardedCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Grade your lesson in a workbook against the course's key; record progress.",
    discussion: "Built the first time it is used (the grader). `lessons check --help` shows "
      + "its options.")
  static let helper = HelperTool.grade
  @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
}

/// `lessons gradebook`, handed to `lessons-grade`.
struct Gradebook: ForwardedCommand {
  static let configuration = CommandConfiguration(
    abstract: "Work with gradebooks.",
    discussion: "`lessons gradebook merge --help` shows its options.")
  static let helper = HelperTool.grade
  @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
}

/// A subcommand that another executable carries: its arguments are passed on as they are.
protocol ForwardedCommand: ParsableCommand {
  /// The executable that carries it.
  static var helper: HelperTool { get }
  /// Everything after the subcommand's name.
  var arguments: [String] { get }
}

extension ForwardedCommand {
  func run() throws {
    let name = Self.configuration.commandName ?? Self._commandName
    do {
      try Self.helper.exec([name] + arguments)
    } catch {
      printError("\(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }
}
