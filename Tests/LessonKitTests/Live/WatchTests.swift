import Foundation
import Testing

@testable import LessonKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `lessons watch`: a save runs the lesson again, a run the save overtakes is stopped, and
/// Ctrl-C leaves no lesson program behind.
@Suite("lessons watch")
struct WatchTests {
  /// A lesson that records its program's process id, says which version it is, and (for
  /// `sleeping`) then sleeps for a minute. The line it prints ("version A") is not in its
  /// source, so that waiting for it waits for the program, not for the cell's source shown
  /// before the program has run.
  static func lesson(_ version: String, sleeping: Bool) -> String {
    """
    # Watched

    ```swift
    try "\\(getpid())".write(toFile: "pid-\(version).txt", atomically: true, encoding: .utf8)
    print("version", "\(version)")
    \(sleeping ? "sleep(60)" : "")
    ```
    """
  }

  @Test func aSaveRunsTheLessonAgainAndStopsTheRunItOvertakes() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let file = work.appendingPathComponent("lesson.md")
    try Self.lesson("A", sleeping: true).write(to: file, atomically: true, encoding: .utf8)
    let watch = try WatchProcess(in: work)
    defer { watch.stop() }

    try watch.waitFor("version A")
    let first = try pid(in: work, "A")
    #expect(kill(first, 0) == 0, "version A's program is running")
    try Self.lesson("B", sleeping: false).write(to: file, atomically: true, encoding: .utf8)
    try watch.waitFor("version B")
    try watch.waitFor("Watching")
    #expect(!isAlive(first), "the overtaken run's program was stopped")
    #expect(watch.output.contains("1 cell run · 0 checks passed"))

    // Ctrl-C while a run is going leaves no program behind.
    try Self.lesson("C", sleeping: true).write(to: file, atomically: true, encoding: .utf8)
    try watch.waitFor("version C")
    let third = try pid(in: work, "C")
    watch.interrupt()
    #expect(watch.waitForExit() == 128 + SIGINT)
    #expect(!isAlive(third), "Ctrl-C stopped the lesson program too")
  }

  private func pid(in folder: URL, _ version: String) throws -> pid_t {
    let text = try String(
      contentsOf: folder.appendingPathComponent("pid-\(version).txt"), encoding: .utf8)
    return try #require(pid_t(text))
  }

  /// Whether a process still runs (a zombie no longer counts): asked for up to two seconds.
  private func isAlive(_ pid: pid_t) -> Bool {
    for _ in 0..<20 {
      let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
        .split(separator: ")").last?.split(separator: " ").first
      if kill(pid, 0) != 0 || state == "Z" { return false }
      usleep(100_000)
    }
    return true
  }
}

/// `lessons watch lesson.md` running in a folder, its output collected as it comes.
final class WatchProcess: @unchecked Sendable {
  private let process = Process()
  private let lock = NSLock()
  private var collected = ""

  init(in folder: URL) throws {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    process.executableURL = buildFolder.appendingPathComponent("lessons")
    process.arguments = ["watch", "lesson.md"]
    process.currentDirectoryURL = folder
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
      let data = handle.availableData
      self?.lock.withLock { self?.collected += String(decoding: data, as: UTF8.self) }
    }
    try process.run()
  }

  var output: String { lock.withLock { collected } }

  /// Waits up to two minutes (a first compile included) for `text` to appear.
  func waitFor(_ text: String) throws {
    let deadline = Date().addingTimeInterval(120)
    while !output.contains(text) {
      guard Date() < deadline, process.isRunning else {
        throw LessonError(file: "watch", "'\(text)' never appeared:\n\(output)")
      }
      usleep(50_000)
    }
  }

  func interrupt() { process.interrupt() }

  func waitForExit() -> Int32 {
    process.waitUntilExit()
    return process.terminationStatus
  }

  func stop() {
    if process.isRunning { process.interrupt() }
    process.waitUntilExit()
  }
}
