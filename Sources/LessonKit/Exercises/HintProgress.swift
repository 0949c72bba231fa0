import Foundation

/// How many hints of each exercise a learner has asked for, per lesson file: kept in the
/// user's cache folder (`$XDG_CACHE_HOME/lessons/hints.json`, `~/.cache/...` without it,
/// `~/Library/Caches/...` on macOS), so that `lessons hint` reveals the next one each time.
public struct HintProgress: Sendable {
  /// The file it is kept in.
  public let file: URL
  private var shown: [String: [String: Int]]

  /// The progress kept in `file` (the user's cache folder when `nil`); none when it does
  /// not exist yet or cannot be read.
  public init(file: URL? = nil) {
    self.file = file ?? Self.defaultFile()
    let data = try? Data(contentsOf: self.file)
    shown =
      data.flatMap { try? JSONDecoder().decode([String: [String: Int]].self, from: $0) } ?? [:]
  }

  /// How many hints of exercise `id` of the lesson at `path` were shown.
  public func count(lesson path: String, exercise id: String) -> Int {
    shown[Self.key(path)]?[id] ?? 0
  }

  /// Records that `count` hints of the exercise were shown.
  public mutating func set(_ count: Int, lesson path: String, exercise id: String) {
    shown[Self.key(path), default: [:]][id] = count == 0 ? nil : count
  }

  /// Writes the progress, atomically.
  public func save() throws {
    try FileManager.default.createDirectory(
      at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(shown).write(to: file, options: .atomic)
  }

  /// A lesson by its absolute path, so that the same file is one lesson from any folder.
  private static func key(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
  }

  private static func defaultFile() -> URL {
    userCacheFolder().appendingPathComponent("lessons/hints.json")
  }
}
