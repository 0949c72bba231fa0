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
  @Option(help: "Stop the lesson after this many seconds.") var timeout: Double?
  @Flag(help: "Print one JSON document instead of the terminal report.") var json = false
  @Flag(help: "Compile even if an identical lesson program is cached.") var noCache = false

  func validate() throws {
    if let timeout, timeout <= 0 {
      throw ValidationError("--timeout must be a positive number of seconds")
    }
  }

  func run() throws {
    let path = resolveLesson(lesson)
    let exit = execute(path)
    if exit != .success { throw ExitCode(exit.rawValue) }
  }

  private func execute(_ path: String) -> LessonExit {
    let parsed: Lesson
    do {
      parsed = try readLesson(at: path)
      guard !parsed.executableCells.isEmpty else {
        throw LessonError(file: path, "has no swift cells to run")
      }
    } catch {
      return fail(path, status: "invalid", "\(error)")
    }
    let program = plan(parsed)
    let executable: Executable
    do {
      let toolchain = try Toolchain.locate()
      executable = try build(
        program, toolchain: toolchain, cacheDirectory: toolchain.libraryDirectory + "/lesson-cache",
        useCache: !noCache)
    } catch let error as BuildError {
      return fail(path, status: "compile_error", error.diagnostics)
    } catch {
      return fail(path, status: "invalid", "\(error)")
    }
    let result: RunResult
    do {
      RunningProgram.forwardInterrupts()
      let live = !json && isatty(2) == 1
      result = try LessonKit.run(
        executable, program: program, limits: RunLimits(timeout: timeout),
        directory: URL(fileURLWithPath: path).deletingLastPathComponent().path,
        onProgress: live ? { showLiveProgress($0) } : nil)
      if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    } catch {
      return fail(path, status: "crashed", "\(error)")
    }
    let exit: LessonExit
    switch result.status {
    case .finished: exit = result.checks.allSatisfy(\.passed) ? .success : .checkFailed
    case .crashed, .timedOut: exit = .couldNotRun
    }
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

/// Redraws a progress bar in place on standard error, with rate and time left.
func showLiveProgress(_ event: RuntimeEvent) {
  guard case .progress(let label, let done, let total, let seconds) = event else { return }
  var line = progressLine(label: label, done: done, total: total, seconds: seconds)
  if done > 0, total > done, seconds > 0 {
    line += String(format: " · ETA %.0f s", seconds / Double(done) * Double(total - done))
  }
  FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
}
