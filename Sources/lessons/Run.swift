import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

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
  @Flag var format: ReportFormat = .terminal
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
    let console = Console(showsBar: format == .terminal && isatty(2) == 1)
    // On a terminal, outputs appear as the cells make them; piped, the report comes whole.
    let liveTerminal = format == .terminal && isatty(1) == 1
    var printer: LiveTerminalPrinter?
    var writer: LiveEventWriter?
    let pipeline = LessonPipeline(
      limits: sandboxLimits.apply(to: RunLimits(timeout: timeout, memory: memory.memory.bytes)),
      sandboxed: sandbox, cellCache: noCache ? nil : .user, check: cachedBlockCheck)
    let outcome = pipeline.execute(lessonAt: path) { event in
      switch event {
      case .compiling(let lesson):
        console.showStatus("compiling \(lesson.path)…")
      case .started(let lesson):
        console.clearBar()
        if liveTerminal {
          printer = LiveTerminalPrinter(
            lesson: lesson, renderer: TerminalRenderer(color: TerminalRenderer.shouldUseColor()),
            write: { console.print($0) })
        }
        if format == .events { writer = LiveEventWriter(lesson: lesson) }
      case .progress(let bar):
        console.showBar(bar)
      default:
        printer?.show(event)
        if let line = writer?.line(event) { console.print(line) }
      }
    }
    console.clearBar()
    var finalOutcome = outcome
    if write, case .ran(let lesson, let result) = outcome {
      if case .finished = result.status {
        do {
          try writeOutputs(lesson, result)
        } catch {
          finalOutcome = .notRun(
            LessonError(file: path, "outputs could not be written: \(error)"))
        }
      } else {
        printError("\(path): the run did not finish, so the lesson was left unchanged")
      }
    }
    report(finalOutcome, path: path, console: console, printer: printer)
    return finalOutcome.exit
  }

  /// The run's report in the chosen format, once it is over.
  private func report(
    _ outcome: LessonOutcome, path: String, console: Console, printer: LiveTerminalPrinter?
  ) {
    switch format {
    case .json:
      print(renderJSON(outcome, lessonPath: path), terminator: "")
    case .events:
      console.print(LiveEventWriter.finished(outcome, lessonPath: path))
    case .terminal:
      guard case .ran(let lesson, let result) = outcome else {
        printError(outcome.failure ?? "\(path): error: the lesson did not run")
        return
      }
      if let printer {
        printer.finish(result)
      } else {
        print(
          TerminalRenderer(color: TerminalRenderer.shouldUseColor()).render(lesson, result),
          terminator: "")
      }
    }
  }
}

/// How `lessons run` reports: one of its flags.
enum ReportFormat: String, EnumerableFlag {
  /// The terminal report (the default).
  case terminal
  /// One JSON document at the end.
  case json
  /// JSON Lines while the lesson runs.
  case events

  static func help(for value: ReportFormat) -> ArgumentHelp? {
    switch value {
    case .terminal: return "Print the terminal report (the default)."
    case .json: return "Print one JSON document instead of the terminal report."
    case .events:
      return """
        Stream what the lesson does as JSON Lines while it runs: cellStarted, output, check, \
        table, plot, progress, cellFinished, and a last runFinished.
        """
    }
  }
}
