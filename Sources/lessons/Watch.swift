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
    let console = Console(showsBar: isatty(2) == 1)
    let limits = RunLimits(timeout: timeout, memory: memory.memory.bytes)
    runOnEveryChange(
      path,
      beforeRun: {
        if terminal { FileHandle.standardOutput.write(Data("\u{1B}[2J\u{1B}[H".utf8)) }
      },
      whenIdle: { paths in
        let files = paths.count - 1
        console.print(
          "\nWatching \(path)"
            + (files > 0 ? " and \(files) data folder\(files == 1 ? "" : "s")" : "")
            + " for changes. Ctrl-C to stop.\n")
      },
      makeRun: {
        var printer: LiveTerminalPrinter?
        return BackgroundRun(
          path: path, limits: limits,
          hooks: .init(
            started: { lesson in
              printer = LiveTerminalPrinter(
                lesson: lesson,
                renderer: TerminalRenderer(color: TerminalRenderer.shouldUseColor()),
                write: { console.print($0) })
            },
            live: { printer?.show($0) }, progress: { console.showBar($0) },
            finished: { outcome in
              console.clearBar()
              guard case .ran(let lesson, let result) = outcome else {
                console.print((outcome.failure ?? "the lesson did not run") + "\n")
                return
              }
              printer?.finish(result)
              console.print(exerciseReport(lesson, result))
            }))
      })
  }
}

/// One run of the lesson on a thread of its own, handing what it does to `hooks` until it
/// is cancelled: `watch` prints it, `serve` sends it to the page.
final class BackgroundRun: @unchecked Sendable {
  /// What a run tells its owner, from the run's thread.
  struct Hooks {
    /// The lesson compiled and its program starts.
    var started: (Lesson) -> Void = { _ in }
    /// The program did something.
    var live: (LiveItem) -> Void = { _ in }
    /// A progress bar's state, ten times a second while one runs.
    var progress: (RuntimeEvent) -> Void = { _ in }
    /// The run is over (not called once cancelled).
    var finished: (LessonOutcome) -> Void = { _ in }
  }

  private let hooks: Hooks
  private let lock = NSLock()
  private var cancelled = false
  private var done = false
  private let ended = DispatchSemaphore(value: 0)

  init(path: String, limits: RunLimits, hooks: Hooks) {
    self.hooks = hooks
    Thread.detachNewThread { [self] in
      let outcome = execute(
        lessonAt: path, limits: limits,
        onProgress: { [self] event in if !isCancelled { self.hooks.progress(event) } },
        onStart: { [self] lesson in if !isCancelled { self.hooks.started(lesson) } },
        onLive: { [self] item in if !isCancelled { self.hooks.live(item) } },
        isCancelled: { [self] in isCancelled })
      if !isCancelled { self.hooks.finished(outcome) }
      lock.withLock { done = true }
      ended.signal()
    }
  }

  var isDone: Bool { lock.withLock { done } }
  private var isCancelled: Bool { lock.withLock { cancelled } }

  /// Stops the run: its program is stopped at the runner's next look, and nothing more of
  /// it reaches the hooks.
  func cancel() { lock.withLock { cancelled = true } }

  /// Waits for the run's thread to end.
  func wait() { ended.wait() }
}

/// Runs the lesson at `path` on every change of it or of the data it reads, for ever:
/// `makeRun` starts a run; a change while it runs cancels it and starts the next.
func runOnEveryChange(
  _ path: String, beforeRun: () -> Void = {}, whenIdle: ([String]) -> Void = { _ in },
  makeRun: () -> BackgroundRun
) -> Never {
  while true {
    beforeRun()
    let watcher = FileWatcher(paths: watchedPaths(path))
    let run = makeRun()
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
    whenIdle(watcher.paths)
    watcher.waitForChange()
  }
}

/// The lesson and the data files and folders its code names, as they are now.
func watchedPaths(_ path: String) -> [String] {
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  let names = (try? readLesson(at: path)).map(dataPaths(of:)) ?? []
  return [path] + names.map { folder + "/" + $0 }
}

/// `Exercises: ✓ a  ✗ b` and the next one to do, as `rustlings watch` ends a run.
func exerciseReport(_ lesson: Lesson, _ result: RunResult) -> String {
  let exercises = ExerciseStatus.of(lesson, result)
  guard !exercises.isEmpty else { return "" }
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
  return text + "\n"
}
