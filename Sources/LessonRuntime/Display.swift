@_exported import LessonEvents
import LoRA

/// Prints a value in the cell's output: a tensor as PyTorch prints it, anything else as
/// `print` would.
public func show(_ value: Any) {
  print(value)
}

/// Shows a table: rows of cells under `headers`, aligned in the terminal and exported as an
/// HTML or Markdown table.
///
/// ```swift
/// table([["4", "800"], ["8", "1,600"]], headers: ["rank", "parameters"])
/// ```
public func table(_ rows: [[Any]], headers: [String]) {
  let text = rows.map { $0.map { "\($0)" } }
  if Channel.isConnected {
    Channel.send(.table(headers: headers, rows: text))
  } else {
    print(([headers] + text).map { $0.joined(separator: "\t") }.joined(separator: "\n"))
  }
}

/// Shows a line chart of one or more series: a compact Unicode chart in the terminal, an SVG
/// in exports and recorded outputs.
///
/// ```swift
/// plot([Series("loss", losses)], title: "Training loss", xLabel: "step", yLabel: "MSE")
/// plot([Series("loss", losses)], title: "Training loss", yScale: .log)
/// ```
public func plot(
  _ series: [Series], title: String = "", xLabel: String = "", yLabel: String = "",
  yScale: PlotScale = .linear
) {
  if Channel.isConnected {
    Channel.send(
      .plot(Plot(title: title, xLabel: xLabel, yLabel: yLabel, series: series, yScale: yScale)))
  } else {
    print("[plot: \(title) — \(series.map(\.name).joined(separator: ", "))]")
  }
}

/// Iterates over `sequence` while showing a progress bar: live on a terminal, one final
/// line in recorded outputs.
///
/// ```swift
/// for step in progress(0..<200, label: "fine-tuning") { ... }
/// ```
public func progress<S: Collection>(_ sequence: S, label: String = "") -> ProgressSequence<S> {
  ProgressSequence(base: sequence, label: label)
}

/// A collection's elements, reporting progress as they are visited.
public struct ProgressSequence<Base: Collection>: Sequence {
  let base: Base
  let label: String

  /// An iterator that reports each step.
  public func makeIterator() -> Iterator {
    Iterator(base: base.makeIterator(), total: base.count, label: label)
  }

  /// Visits the elements and sends progress events, at most about 20 a second.
  public struct Iterator: IteratorProtocol {
    var base: Base.Iterator
    let total: Int
    let label: String
    var done = 0
    let start = ContinuousClock.now
    var lastReport = ContinuousClock.now

    init(base: Base.Iterator, total: Int, label: String) {
      self.base = base
      self.total = total
      self.label = label
      report()
    }

    /// The next element, after reporting the steps so far.
    public mutating func next() -> Base.Element? {
      guard let element = base.next() else {
        if done < total || total == 0 { report() }
        return nil
      }
      if done > 0 && (ContinuousClock.now - lastReport) > .milliseconds(50) {
        report()
        lastReport = .now
      }
      done += 1
      if done == total { report() }
      return element
    }

    private func report() {
      let elapsed = ContinuousClock.now - start
      let seconds =
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      Channel.send(.progress(label: label, done: done, total: total, seconds: seconds))
    }
  }
}
