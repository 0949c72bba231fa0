import Foundation
import LessonKit

/// The terminal while a lesson runs: a progress bar redrawn in place on standard error,
/// and text written at once to standard output, which first clears the bar's line (on a
/// terminal both streams are the same screen).
public final class Console {
  /// Whether a live bar is drawn: standard error is a terminal.
  public let showsBar: Bool
  private var barDrawn = false

  /// A console that draws a bar when `showsBar`.
  public init(showsBar: Bool) {
    self.showsBar = showsBar
  }

  /// Redraws the bar of a progress event, with rate and time left.
  public func showBar(_ event: RuntimeEvent) {
    guard showsBar, case .progress(let label, let done, let total, let seconds) = event else {
      return
    }
    var line = progressLine(label: label, done: done, total: total, seconds: seconds)
    if done > 0, total > done, seconds > 0 {
      line += String(format: " · ETA %.0f s", seconds / Double(done) * Double(total - done))
    }
    FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    barDrawn = true
  }

  /// Shows what is happening now ("compiling 02-lora-from-scratch.md…") where the bar goes,
  /// until the next output or bar replaces it.
  public func showStatus(_ text: String) {
    guard showsBar else { return }
    FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    barDrawn = true
  }

  /// Clears the bar's line, if a bar is drawn.
  public func clearBar() {
    guard barDrawn else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    barDrawn = false
  }

  /// Writes `text` to standard output now, unbuffered.
  public func print(_ text: String) {
    clearBar()
    FileHandle.standardOutput.write(Data(text.utf8))
  }
}
