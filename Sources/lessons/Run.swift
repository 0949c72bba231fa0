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
  @Flag(
    help: """
      Stream what the lesson does as JSON Lines while it runs: cellStarted, output, check, \
      table, plot, progress, cellFinished, and a last runFinished.
      """)
  var events = false
  @Flag(help: "Ignore every cache: compile afresh, and recompute the lesson's cached blocks.")
  var noCache = false
  @OptionGroup var memory: MemoryOption
  @Flag(
    help: """
      Run the lesson in the grader's sandbox (Linux, bubblewrap): it reads only its own \
      data files and writes only a private /tmp, with the CPU-time and file-size limits.
      """)
  var sandbox = false
  @OptionGroup var sandboxLimits: SandboxOptions

  func validate() throws {
    if json && events { throw ValidationError("--json and --events do not go together") }
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
    let console = Console(showsBar: !json && !events && isatty(2) == 1)
    // On a terminal, outputs appear as the cells make them; piped, the report comes whole.
    let liveTerminal = !json && !events && isatty(1) == 1
    var printer: LiveTerminalPrinter?
    var writer: LiveEventWriter?
    let outcome = execute(
      lessonAt: path,
      limits: sandboxLimits.apply(to: RunLimits(timeout: timeout, memory: memory.memory.bytes)),
      sandboxed: sandbox, useCache: !noCache, cellCache: .user,
      onProgress: console.showsBar ? { console.showBar($0) } : nil,
      onStart: { lesson in
        if liveTerminal {
          printer = LiveTerminalPrinter(
            lesson: lesson, renderer: TerminalRenderer(color: TerminalRenderer.shouldUseColor()),
            write: { console.print($0) })
        }
        if events { writer = LiveEventWriter(lesson: lesson) }
      },
      onLive: liveTerminal || events
        ? { item in
          printer?.show(item)
          if let line = writer?.line(item) { console.print(line) }
        } : nil)
    console.clearBar()
    guard case .ran(let lesson, let result) = outcome else {
      if json {
        print(renderJSON(outcome, lessonPath: path), terminator: "")
      } else if events {
        console.print(LiveEventWriter.finished(outcome, lessonPath: path))
      } else {
        printError(outcome.failure ?? "\(path): error: the lesson did not run")
      }
      return outcome.exit
    }
    if write {
      if case .finished = result.status {
        do {
          try writeOutputs(lesson, result)
        } catch {
          let failed = LessonOutcome.notRun(
            "\(path): error: outputs could not be written: \(error)")
          if json {
            print(renderJSON(failed, lessonPath: path), terminator: "")
          } else if events {
            console.print(LiveEventWriter.finished(failed, lessonPath: path))
          } else {
            printError(failed.failure!)
          }
          return failed.exit
        }
      } else {
        printError("\(path): the run did not finish, so the lesson was left unchanged")
      }
    }
    if json {
      print(renderJSON(outcome, lessonPath: path), terminator: "")
    } else if events {
      console.print(LiveEventWriter.finished(outcome, lessonPath: path))
    } else if let printer {
      printer.finish(result)
    } else {
      print(
        TerminalRenderer(color: TerminalRenderer.shouldUseColor()).render(lesson, result),
        terminator: "")
    }
    return outcome.exit
  }
}
