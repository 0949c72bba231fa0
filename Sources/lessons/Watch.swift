import ArgumentParser
import Foundation
import LessonKit

/// `lessons watch LESSON.md`: runs the lesson, then again on every save, as `rustlings
/// watch` does, ending each run with where the exercises stand.
struct Watch: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a lesson again every time it, or a data file it reads, changes.",
    discussion: """
      A run still going when the lesson changes again is stopped, and the new version runs. \
      Each run ends with the exercises that pass and the one to do next. Ctrl-C stops \
      watching, and the lesson program with it.
      """)

  @Argument(help: "The lesson: a path, or a name in Lessons/.") var lesson: String
  @Option(parsing: .unconditional, help: "Stop a run after this many seconds.")
  var timeout: Double?
  @OptionGroup var memory: MemoryOption

  func run() throws {
    let path = resolveLesson(lesson)
    RunningProgram.forwardInterrupts()
    let terminal = isatty(1) == 1
    while true {
      if terminal { FileHandle.standardOutput.write(Data("\u{1B}[2J\u{1B}[H".utf8)) }
      let watcher = FileWatcher(paths: watchedPaths(path))
      let run = BackgroundRun(
        path: path, limits: RunLimits(timeout: timeout, memory: memory.memory.bytes))
      // Until the run ends, a change stops it and starts the new version.
      var superseded = false
      while !run.isDone {
        if watcher.hasChanged() {
          superseded = true
          run.cancel()
        }
        usleep(100_000)
      }
      run.wait()
      if superseded { continue }
      let files = watcher.paths.count - 1
      run.console.print(
        "\nWatching \(path)"
          + (files > 0 ? " and \(files) data folder\(files == 1 ? "" : "s")" : "")
          + " for changes. Ctrl-C to stop.\n")
      watcher.waitForChange()
    }
  }

  /// The lesson and the data files and folders its code names, as they are now.
  private func watchedPaths(_ path: String) -> [String] {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    let names = (try? readLesson(at: path)).map(dataPaths(of:)) ?? []
    return [path] + names.map { folder + "/" + $0 }
  }
}

/// One run of the lesson on a thread of its own, printed live while it is not cancelled.
private final class BackgroundRun: @unchecked Sendable {
  let console = Console(showsBar: isatty(2) == 1)
  private let lock = NSLock()
  private var cancelled = false
  private var done = false
  private let finished = DispatchSemaphore(value: 0)

  init(path: String, limits: RunLimits) {
    Thread.detachNewThread { [self] in
      var printer: LiveTerminalPrinter?
      let outcome = execute(
        lessonAt: path, limits: limits,
        onProgress: { [self] event in if !isCancelled { console.showBar(event) } },
        onStart: { [self] lesson in
          printer = LiveTerminalPrinter(
            lesson: lesson, renderer: TerminalRenderer(color: TerminalRenderer.shouldUseColor()),
            write: { [self] text in if !isCancelled { console.print(text) } })
        },
        onLive: { printer?.show($0) }, isCancelled: { [self] in isCancelled })
      console.clearBar()
      if !isCancelled { report(outcome, printer: printer) }
      lock.withLock { done = true }
      finished.signal()
    }
  }

  var isDone: Bool { lock.withLock { done } }
  private var isCancelled: Bool { lock.withLock { cancelled } }

  /// Stops the run: its program is stopped at the runner's next look, and nothing more
  /// of it is printed.
  func cancel() { lock.withLock { cancelled = true } }

  func wait() { finished.wait() }

  /// The end of the report, then where the exercises stand.
  private func report(_ outcome: LessonOutcome, printer: LiveTerminalPrinter?) {
    guard case .ran(let lesson, let result) = outcome else {
      console.print((outcome.failure ?? "the lesson did not run") + "\n")
      return
    }
    printer?.finish(result)
    let exercises = ExerciseStatus.of(lesson, result)
    guard !exercises.isEmpty else { return }
    var text = "\nExercises: "
    text += exercises.map { ($0.state == .passed ? "✓ " : "✗ ") + $0.id }.joined(separator: "  ")
    if let next = exercises.first(where: { $0.state != .passed }) {
      let hints = lesson.hints(for: next.id).count
      text +=
        "\nNext: exercise '\(next.id)' at \(lesson.path):\(next.line)"
        + (hints > 0 ? " (stuck? lessons hint \(lesson.path) \(next.id))" : "")
    } else {
      text += "\nEvery exercise passes."
    }
    console.print(text + "\n")
  }
}
