import Foundation

/// Where the blocks that lesson code marks with `cached` keep what they did, and how much
/// they may keep. `run`, `watch`, `serve` and `export` pass the user's; grading never passes
/// one, and neither does `--no-cache` or a sandboxed run.
public struct CellCache: Sendable {
  /// The folder, one entry per block and key.
  public var folder: String
  /// Bytes it may hold before the least recently used entries go.
  public var limit: Int

  /// A cache in `folder` holding at most `limit` bytes.
  public init(folder: String, limit: Int) {
    self.folder = folder
    self.limit = limit
  }

  /// The user's: `lessons/cells` in the user's cache folder, at most the
  /// `LESSONS_CELL_CACHE_MB` variable's megabytes (2,048 without it).
  public static var user: CellCache {
    let megabytes = ProcessInfo.processInfo.environment["LESSONS_CELL_CACHE_MB"].flatMap(Int.init)
    return CellCache(
      folder: userCacheFolder().appendingPathComponent("lessons/cells").path,
      limit: (megabytes ?? 2048) << 20)
  }

  /// The variables that hand the cache to the program of `lesson`, with the salt of its
  /// keys: the compiler and library build and the lesson's data files as they are now, so
  /// a rebuilt library or an edited data file is a miss.
  func environment(for lesson: Lesson, toolchain: Toolchain) -> [String: String] {
    let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent().path
    let data = fileFingerprints(of: dataPaths(of: lesson).map { folder + "/" + $0 })
      .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    return [
      "LESSONS_CELL_CACHE": self.folder,
      "LESSONS_CELL_CACHE_SALT": stableHash(
        ([toolchain.fingerprint] + data).joined(separator: "\n")),
      "LESSONS_CELL_CACHE_LIMIT": "\(limit)",
    ]
  }
}

/// The user's cache folder: `$XDG_CACHE_HOME` or `~/.cache` (`~/Library/Caches` on macOS).
func userCacheFolder() -> URL {
  let environment = ProcessInfo.processInfo.environment
  let home = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory())
  #if os(macOS)
    return home.appendingPathComponent("Library/Caches")
  #else
    return environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
      ?? home.appendingPathComponent(".cache")
  #endif
}
