/// What a lesson's run does, in the order it does it: the one stream that the live views
/// show and that the run's record (`RunResult`) is folded from, so the two cannot disagree.
public enum RunEvent: Sendable, Equatable {
  /// The lesson's program is being compiled (it was not in the build cache).
  case compiling(Lesson)
  /// The lesson compiled and its program starts.
  case started(Lesson)
  /// The lesson cell at `position` started (`code` is the cell whose code runs there: the
  /// same cell, or an exercise's solution).
  case cellStarted(position: Int, code: Int)
  /// It printed `text` on standard output, or on standard error (`stderr`; given whole when
  /// the cell ends, without the runtime's stack trace).
  case text(position: Int, String, stderr: Bool)
  /// It printed more than a cell may show on one stream: `omitted` bytes were cut.
  case truncated(position: Int, stderr: Bool, omitted: Int)
  /// It showed a check, table, plot or progress bar.
  case event(position: Int, RuntimeEvent)
  /// It ran to its end, or the program stopped in it.
  case cellFinished(position: Int)
  /// The progress bar running now, about ten times a second, for a bar drawn in place.
  /// (Not part of the record: the bar's own events are.)
  case progress(RuntimeEvent)
  /// The program ended, and how.
  case stopped(RunStatus)
}

/// Who follows a run: called with each of its events, in order, on the runner's thread.
public typealias RunObserver = (RunEvent) -> Void

extension RunEvent {
  /// A `.truncated` as the text the run's record holds for it, its notice; any other event
  /// as it is. Every view shows a cut stream this way, as the final report does.
  public var truncationAsText: RunEvent {
    guard case .truncated(let position, let stderr, let omitted) = self else { return self }
    return .text(
      position: position, CellOutput.truncationNotice(omitted: omitted), stderr: stderr)
  }
}
