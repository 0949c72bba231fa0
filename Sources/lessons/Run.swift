import ArgumentParser
import Foundation
import LessonKit

/// `lessons run LESSON.md`: compile the lesson's cells into one program, run it, and show
/// each cell's output.
struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a lesson and show each cell's output.",
    discussion: """
      Exit status: 0 when every cell ran and every check passed, 1 when a check failed,
      2 when the lesson could not run to the end (bad input, compile error, crash, timeout).
      """)

  @Argument(help: "The lesson: a path, or a name in Lessons/.") var lesson: String
  @Flag(help: "Write each cell's output back into the lesson, after the cell.") var write = false
  @Option(parsing: .unconditional, help: "Stop the lesson after this many seconds.")
  var timeout: Double?
  @Flag(help: "Print one JSON document instead of the terminal report.") var json = false
  @Flag(help: "Compile even if an identical lesson program is cached.") var noCache = false
  @OptionGroup var memory: MemoryOption
  @Flag(
    help: """
      Run the lesson in the grader's sandbox (Linux, bubblewrap): it reads only its own \
      data files and writes only a private /tmp, with the CPU-time and file-size limits.
      """)
  var sandbox = false
  @OptionGroup var sandboxLimits: SandboxOptions

  func validate() throws {
    if let timeout, timeout <= 0 {
      throw ValidationError("--timeout must be a positive number of seconds")
    }
  }

  func run() throws {
    let path = resolveLesson(lesson)
    let exit = runLesson(path)
    if exit != .success { throw ExitCode(exit.rawValue) }
  }

  private func runLesson(_ path: String) -> LessonExit {
    let parsed: Lesson
    let result: RunResult
    switch execute(
      lessonAt: path, limits: RunLimits(timeout: timeout, memory: memory.memory.bytes),
      sandbox: sandbox ? sandboxLimits : nil, useCache: !noCache, live: !json && isatty(2) == 1)
    {
    case .failed(let status, let message):
      return fail(path, status: status, message)
    case .didNotCompile(_, let diagnostics):
      return fail(path, status: "compile_error", diagnostics)
    case .ran(let lesson, let run):
      (parsed, result) = (lesson, run)
    }
    let exit = lessonExit(of: result)
    if write {
      if case .finished = result.status {
        do {
          try writeOutputs(parsed, result)
        } catch {
          return fail(
            path, status: "invalid", "\(path): error: outputs could not be written: \(error)")
        }
      } else {
        printError("\(path): the run did not finish, so the lesson was left unchanged")
      }
    }
    if json {
      print(renderJSON(parsed, result, exit: exit), terminator: "")
    } else {
      print(
        TerminalRenderer(color: TerminalRenderer.shouldUseColor()).render(parsed, result),
        terminator: "")
    }
    return exit
  }

  private func fail(_ path: String, status: String, _ message: String) -> LessonExit {
    if json {
      print(renderJSONError(lessonPath: path, status: status, message: message), terminator: "")
    } else {
      printError(message)
    }
    return .couldNotRun
  }
}
