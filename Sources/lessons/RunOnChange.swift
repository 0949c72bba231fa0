import ArgumentParser
import Foundation
import LessonKit

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

  init(path: String, limits: RunLimits, cellCache: CellCache?, hooks: Hooks) {
    self.hooks = hooks
    Thread.detachNewThread { [self] in
      let outcome = execute(
        lessonAt: path, limits: limits, useCache: cellCache != nil, cellCache: cellCache,
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

/// The options of the runs that `watch` and `serve` start on every change.
struct RunOnChangeOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Stop a run after this many seconds.")
  var timeout: Double?
  @OptionGroup var memory: MemoryOption
  @Flag(help: "Ignore every cache: compile afresh, and recompute the lesson's cached blocks.")
  var noCache = false

  /// Each run's limits.
  var limits: RunLimits { RunLimits(timeout: timeout, memory: memory.memory.bytes) }
  /// The cell cache each run uses, if any.
  var cellCache: CellCache? { noCache ? nil : .user }
}
