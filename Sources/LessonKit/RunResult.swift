/// What running a lesson produced, cell by cell.
public struct RunResult: Sendable {
  /// How the run ended.
  public var status: RunStatus
  /// One entry per program cell that started, in order.
  public var cells: [CellOutput]
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
}

/// How a run ended.
public enum RunStatus: Sendable, Equatable {
  /// Every cell ran to the end.
  case finished
  /// The program stopped in a cell: a trap, a fatal error, a signal or a non-zero exit.
  case crashed(cell: Int?, reason: String)
  /// The time limit ran out while a cell was running.
  case timedOut(cell: Int?, seconds: Double)
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

/// A check's result.
public struct Check: Sendable, Equatable, Codable {
  /// Whether it held.
  public var passed: Bool
  /// What it checks, in words.
  public var message: String
  /// Why it failed, when it did.
  public var detail: String?
  /// The lesson line of the `check` call.
  public var line: Int
  /// The values compared, for `checkEqual` and `checkClose` (strong checks); `nil` for a
  /// plain `check`.
  public var values: CheckValues? = nil
}

/// What a strong check compared: `checkEqual`'s values as text, `checkClose`'s as numbers
/// (a tensor's as a sample of at most 4,096 elements), with its tolerance.
public struct CheckValues: Sendable, Equatable, Codable {
  /// The computed value.
  public var actual: Value
  /// The value it was compared with.
  public var expected: Value
  /// `checkClose`'s tolerance, relative above magnitude 1; `nil` for `checkEqual`.
  public var tolerance: Double?

  /// A compared value.
  public enum Value: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `checkEqual`'s, as `String(describing:)` prints it.
    case text(String)
    /// `checkClose`'s.
    case numbers([Double])

    /// The text, the number, or how many numbers.
    public var description: String {
      switch self {
      case .text(let text): return text
      case .numbers(let numbers) where numbers.count == 1: return "\(numbers[0])"
      case .numbers(let numbers): return "\(numbers.count) numbers"
      }
    }
  }

  /// Whether `value` matches `reference` as the check would compare them: equal text, or
  /// equal counts of numbers each within the tolerance.
  public func matches(_ value: Value, _ reference: Value) -> Bool {
    switch (value, reference) {
    case (.text(let a), .text(let b)): return a == b
    case (.numbers(let a), .numbers(let b)):
      let tolerance = self.tolerance ?? 0
      return a.count == b.count
        && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * Swift.max(1, abs($1)) + 1e-12 }
    default: return false
    }
  }
}

/// A line chart's data.
public struct Plot: Sendable, Equatable, Codable {
  /// One named line.
  public struct Series: Sendable, Equatable, Codable {
    /// The legend's name.
    public var name: String
    /// The x coordinates.
    public var x: [Double]
    /// The y coordinates.
    public var y: [Double]
  }
  /// The chart's title.
  public var title: String
  /// The x axis label.
  public var xLabel: String
  /// The y axis label.
  public var yLabel: String
  /// The lines.
  public var series: [Series]
  /// How y values map onto the axis.
  public var yScale: PlotScale = .linear
}

/// Something a cell showed besides text.
public enum RuntimeEvent: Sendable, Equatable {
  /// A check's result.
  case check(Check)
  /// A table.
  case table(headers: [String], rows: [[String]])
  /// A line chart.
  case plot(Plot)
  /// The state of a progress bar.
  case progress(label: String, done: Int, total: Int, seconds: Double)
}
