import Foundation

/// Every file the library writes (weights, adapters, configs, checkpoints) goes through
/// here: atomically, so that a reader never sees half a file and a failed write leaves the
/// earlier one in place; and announced to `observer`, for a runner that must know what a
/// piece of code wrote wherever it wrote it (a cached lesson block restores its files).
public enum FileWrites {
  /// Called with each file's URL after it is written; `nil` (the default) for no one.
  nonisolated(unsafe) public static var observer: ((URL) -> Void)?

  /// Writes `data` to `url` atomically, then tells `observer`.
  static func write(_ data: Data, to url: URL) throws {
    try data.write(to: url, options: .atomic)
    observer?(url)
  }
}
