// The event schema is part of this module's API (a run's cells hold its events). The
// fuzzers compile LessonEvents' sources into this module instead, where there is no module
// to import.
#if canImport(LessonEvents)
  @_exported import LessonEvents
#endif

/// What running a lesson produced, cell by cell: the fold of its `RunEvent`s.
public struct RunResult: Sendable {
  /// How the run ended.
  public var status: RunStatus
  /// One entry per program cell that started, in order.
  public var cells: [CellOutput]
  /// The exercise that a crash after it may come from, when one is in doubt: a hand-out's
  /// later cell can fail for a stub that was never solved.
  public var suspect: UnsolvedExercise?
  /// Wall-clock seconds of the run, compilation excluded.
  public var seconds: Double
  /// Whether the cell markers arrived out of order or twice: cell code called the
  /// runtime's internal marker itself, so event attribution cannot be trusted.
  public var markersTampered = false
  /// The most resident memory the program and its processes used at once, as the watcher
  /// saw it ten times a second (0 where it cannot measure).
  public var peakMemory = 0

  /// Every check of the run.
  public var checks: [Check] { cells.flatMap(\.checks) }

  /// Whether the lesson cell at `position` ran to its end: it started, and the run either
  /// finished or went on to a later cell.
  public func completed(_ position: Int) -> Bool {
    guard let index = cells.firstIndex(where: { $0.cell == position }) else { return false }
    if case .finished = status { return true }
    return index < cells.count - 1
  }
}

/// How a run ended.
public enum RunStatus: Sendable, Equatable {
  /// Every cell ran to the end.
  case finished
  /// The program stopped in lesson cell `cell` (or before any), for `cause`.
  case stopped(cell: Int?, cause: StopCause)

  /// The cell it stopped in, when it stopped in one.
  public var cell: Int? {
    if case .stopped(let cell, _) = self { return cell }
    return nil
  }
}

/// The output of one cell.
public struct CellOutput: Sendable {
  /// The lesson cell at whose position this ran.
  public var cell: Int
  /// The lesson cell whose code ran: the same cell, or an exercise's solution.
  public var codeCell: Int
  /// What it printed, in order of stream: standard output.
  public var stdout: String
  /// What it printed on standard error.
  public var stderr: String
  /// Whether the output was cut at the limit.
  public var truncated: Bool
  /// Rich outputs and checks, in the order the cell made them.
  public var events: [RuntimeEvent]
  /// For each event, how many bytes of `stdout` the cell had printed before it.
  public var eventOffsets: [Int] = []

  /// The cell's standard output and events in the order they happened.
  public var items: [CellItem] {
    var items: [CellItem] = []
    let bytes = Array(stdout.utf8)
    var position = 0
    for (index, event) in events.enumerated() {
      let offset = min(
        max(index < eventOffsets.count ? eventOffsets[index] : bytes.count, position), bytes.count)
      if offset > position {
        items.append(.text(String(decoding: bytes[position..<offset], as: UTF8.self)))
      }
      position = offset
      items.append(.event(event))
    }
    if position < bytes.count {
      items.append(.text(String(decoding: bytes[position...], as: UTF8.self)))
    }
    return items
  }

  /// What stands for the `omitted` bytes cut from a stream.
  static func truncationNotice(omitted: Int) -> String {
    "\n… output truncated: \(omitted) more bytes not shown\n"
  }

  /// The cell's checks.
  public var checks: [Check] {
    events.compactMap { if case .check(let check) = $0 { return check } else { return nil } }
  }
}

/// A piece of a cell's output, in order.
public enum CellItem: Sendable, Equatable {
  /// Printed text.
  case text(String)
  /// A rich output or check.
  case event(RuntimeEvent)
}
