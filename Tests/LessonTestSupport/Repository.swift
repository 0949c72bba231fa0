import Foundation

/// Where the package's files are, for the tests of every target.
public enum Repository {
  /// The package's root folder.
  public static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `Lessons/`, the course.
  public static let lessons = root.appendingPathComponent("Lessons")

  /// A folder of `Tests/`: `tests("LessonKitTests/Fixtures")`.
  public static func tests(_ path: String) -> URL {
    root.appendingPathComponent("Tests").appendingPathComponent(path)
  }

  /// The course's lesson files, by name.
  public static var lessonNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: lessons.path)) ?? [])
      .filter { $0.hasSuffix(".md") }.sorted()
  }

  /// The course's lessons with cached blocks: `CellCacheTests` runs them, uncached and
  /// cached, and the other suites leave their plain runs to it.
  public static var cachingLessons: [String] {
    lessonNames.filter { name in
      let text = (try? String(contentsOf: lessons.appendingPathComponent(name), encoding: .utf8))
      return text?.contains("try cached(") == true
    }
  }
}
