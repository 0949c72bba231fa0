import Foundation
import LessonKit

/// Redraws a progress bar in place on standard error, with rate and time left: the live
/// bar of `run` and `export` on a terminal.
func showLiveProgress(_ event: RuntimeEvent) {
  guard case .progress(let label, let done, let total, let seconds) = event else { return }
  var line = progressLine(label: label, done: done, total: total, seconds: seconds)
  if done > 0, total > done, seconds > 0 {
    line += String(format: " · ETA %.0f s", seconds / Double(done) * Double(total - done))
  }
  FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
}

/// Clears the live bar's line once the run is over.
func clearLiveProgress() {
  FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
}
