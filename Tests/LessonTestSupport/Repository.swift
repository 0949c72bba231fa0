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

  /// The kernels the course's outputs are recorded with: OpenBLAS's Haswell kernels and the
  /// library's AVX2 ones, which every x86-64 CPU since 2013 runs. A float's last printed
  /// digit depends on the kernels (AVX-512's sum in another order), so the check that the
  /// recorded outputs are current runs with these, whatever the CPU.
  public static let recordingKernels = ["OPENBLAS_CORETYPE": "Haswell", "LORA_ISA": "avx2"]

  /// A copy of lesson `name` in a folder of its own (its plots too), beside the course's
  /// data and models, for a run with `--write` that must not touch the course.
  public static func copyOfLesson(_ name: String) throws -> URL {
    let manager = FileManager.default
    let folder = manager.temporaryDirectory.appendingPathComponent("lesson-copy-\(UUID())")
    try manager.createDirectory(at: folder, withIntermediateDirectories: true)
    try manager.copyItem(
      at: lessons.appendingPathComponent(name), to: folder.appendingPathComponent(name))
    let assets = (name as NSString).deletingPathExtension + ".assets"
    if manager.fileExists(atPath: lessons.appendingPathComponent(assets).path) {
      try manager.copyItem(
        at: lessons.appendingPathComponent(assets), to: folder.appendingPathComponent(assets))
    }
    for shared in ["data", "models"] {
      try manager.createSymbolicLink(
        at: folder.appendingPathComponent(shared),
        withDestinationURL: lessons.appendingPathComponent(shared))
    }
    return folder
  }

  /// Why lesson `name`'s copy in `folder`, rewritten by a run with `--write`, differs from
  /// the course's file, or nil when the recorded outputs are current.
  public static func staleOutputs(_ name: String, rewrittenIn folder: URL) throws -> String? {
    let recorded = try String(contentsOf: lessons.appendingPathComponent(name), encoding: .utf8)
    let fresh = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    guard recorded != fresh else { return nil }
    let (old, new) = (recorded.lines, fresh.lines)
    let line =
      zip(old, new).enumerated().first { $0.element.0 != $0.element.1 }?.offset
      ?? min(old.count, new.count)
    return "\(name): the recorded outputs are stale from line \(line + 1) "
      + "(\"\(line < old.count ? old[line] : "")\" now \"\(line < new.count ? new[line] : "")\"); "
      + "run `lessons run \(name) --write` and commit the file"
  }
}

extension String {
  /// The lines, empty ones included, so that an index is a line number less one.
  fileprivate var lines: [Substring] { split(separator: "\n", omittingEmptySubsequences: false) }
}
