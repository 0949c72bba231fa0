import ArgumentParser
import Foundation
import LessonKit

/// One run of the lesson on a thread of its own, handing what it does to its observer until
/// it is cancelled: `watch` prints it, `serve` sends it to the page.
public final class BackgroundRun: @unchecked Sendable {
  private let cancellation = Cancellation()
  private let observer: RunObserver
  private let finished: (LessonOutcome) -> Void
  private let lock = NSLock()
  private var done = false
  private let ended = DispatchSemaphore(value: 0)

  /// Starts running the lesson at `path` through `pipeline`: `observer` sees its events and
  /// `finished` its outcome, unless the run was cancelled first.
  public init(
    path: String, pipeline: LessonPipeline, observer: @escaping RunObserver,
    finished: @escaping (LessonOutcome) -> Void
  ) {
    self.observer = observer
    self.finished = finished
    Thread.detachNewThread { [self] in
      let outcome = pipeline.execute(
        lessonAt: path,
        observer: { [self] event in if !cancellation.isCancelled { self.observer(event) } },
        cancellation: cancellation)
      if !cancellation.isCancelled { self.finished(outcome) }
      lock.withLock { done = true }
      ended.signal()
    }
  }

  /// Whether the run has ended.
  public var isDone: Bool { lock.withLock { done } }

  /// Stops the run: its program is stopped at the runner's next look, and nothing more of
  /// it reaches the observer.
  public func cancel() { cancellation.cancel() }

  /// Waits for the run's thread to end.
  public func wait() { ended.wait() }
}

/// Runs the lesson at `path` on every change of it or of the data it reads, for ever:
/// `makeRun` starts a run; a change while it runs cancels it and starts the next.
public func runOnEveryChange(
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
public func watchedPaths(_ path: String) -> [String] {
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  let names = (try? Lesson(contentsOf: path)).map(dataPaths(of:)) ?? []
  return [path] + names.map { folder + "/" + $0 }
}

/// The options of the runs that `watch` and `serve` start on every change.
public struct RunOnChangeOptions: ParsableArguments, Sendable {
  /// The defaults.
  public init() {}

  /// `--timeout`.
  @Option(parsing: .unconditional, help: "Stop a run after this many seconds.")
  public var timeout: Double?
  /// `--memory`.
  @OptionGroup public var memory: MemoryOption
  /// `--no-cache`.
  @Flag(help: "Ignore every cache: compile afresh, and recompute the lesson's cached blocks.")
  public var noCache = false

  /// The pipeline each run goes through.
  public var pipeline: LessonPipeline {
    LessonPipeline(
      limits: RunLimits(timeout: timeout, memory: memory.memory.bytes),
      cellCache: noCache ? nil : .user, check: cachedBlockCheck)
  }
}
