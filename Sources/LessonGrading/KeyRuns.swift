import Foundation
import LessonKit

/// What the key's own run (its solutions in place, no student code) compared in each
/// strong check: the reference the grader holds every submission's checks to.
///
/// Kept in memory for the submissions of one `grade`, and on disk in the build cache for
/// later ones, keyed by the key's text, the compiler and libraries, and the data files the
/// key reads: the run is seeded, so the same inputs give the same values. No sandboxed
/// program can see the build cache, so no submission can write a reference.
final class KeyRuns: @unchecked Sendable {
  static let shared = KeyRuns()
  private var references: [String: KeyChecks?] = [:]
  private let lock = NSLock()

  /// The key's checks, or `nil` when its run could not be built or did not finish. The
  /// first caller runs it; the others wait for that run.
  func checks(of key: Lesson, compiler: Compiler, limits: RunLimits)
    -> KeyChecks?
  {
    let id = cacheKey(key, toolchain: compiler.toolchain)
    let file = compiler.cacheDirectory + "/key-runs/\(id).json"
    return lock.withLock {
      if let known = references[id] { return known }
      if let data = FileManager.default.contents(atPath: file),
        let stored = try? EventJSON.decoder().decode(KeyChecks.self, from: data)
      {
        references[id] = stored
        return stored
      }
      let checks = run(key, compiler: compiler, limits: limits)
      references[id] = checks
      if let checks, let data = try? EventJSON.encoder().encode(checks) {
        try? FileManager.default.createDirectory(
          atPath: compiler.cacheDirectory + "/key-runs", withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
      }
      return checks
    }
  }

  private func run(_ key: Lesson, compiler: Compiler, limits: RunLimits)
    -> KeyChecks?
  {
    guard
      case .ran(_, let result) = compiler.buildAndRun(
        Program(key), of: key, limits: limits,
        directory: URL(fileURLWithPath: key.path).deletingLastPathComponent().path),
      case .finished = result.status
    else { return nil }
    var cells: [Int: [CheckValues?]] = [:]
    for output in result.cells { cells[output.cell] = output.checks.map(\.values) }
    return KeyChecks(cells: cells)
  }

  /// The key's text, the toolchain, and the size and date of every data file it reads.
  private func cacheKey(_ key: Lesson, toolchain: Toolchain) -> String {
    let folder = URL(fileURLWithPath: key.path).deletingLastPathComponent().path
    var parts = [key.path, key.text, toolchain.fingerprint]
    for name in dataPaths(of: key) {
      let root = folder + "/" + name
      let files =
        [root]
        + ((FileManager.default.subpaths(atPath: root) ?? []).sorted().map { root + "/" + $0 })
      for file in files {
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        parts.append("\(file):\(size):\(date)")
      }
    }
    return stableHash(parts.joined(separator: "\u{0}"))
  }
}

/// Per lesson cell of the key, the values each of its checks compared (`nil` for a plain
/// check).
struct KeyChecks: Codable, Sendable {
  var cells: [Int: [CheckValues?]]
}

extension CheckValues {
  /// Whether a submission's check compared what the key's run compared: its expected value
  /// matches the key's, and so does its actual value. A check that reports no values where
  /// the key's reported some (a forged plain check) does not agree.
  func agrees(with submitted: CheckValues?) -> Bool {
    guard let submitted else { return false }
    return matches(submitted.expected, expected) && matches(submitted.actual, expected)
  }
}
