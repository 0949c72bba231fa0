import Foundation
import Testing

@testable import LessonRuntime

/// The write hook on real programs (Debian's dash, coreutils and sed, preloaded as the
/// runner preloads it), and what a cached block makes of what it notes.
@Suite("The write hook")
struct WriteHookTests {
  /// The hook's library, built beside this test bundle.
  static let hook = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("libLessonWriteHook.so").path

  /// Runs `script` with `sh` in a new folder, the hook preloaded; the folder and the log's
  /// records.
  static func traced(_ script: String, prepare: (URL) throws -> Void = { _ in }) throws -> (
    URL, [WriteLog.Record]
  ) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID())")
      .resolvingSymlinksInPath()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try prepare(folder)
    let log = folder.path + ".log"
    FileManager.default.createFile(atPath: log, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: log) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = folder
    process.environment = ProcessInfo.processInfo.environment.merging([
      "LD_PRELOAD": hook, "LESSONS_WRITE_LOG": log,
    ]) { _, new in new }
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return (folder, WriteLog.parse(try Data(contentsOf: URL(fileURLWithPath: log))))
  }

  @Test("notes what dash, coreutils and sed create, add to, replace and remove, and nothing read")
  func realPrograms() throws {
    let (folder, records) = try Self.traced(
      """
      echo one > made.txt
      echo two >> made.txt
      cat made.txt old.txt > /dev/null
      cp made.txt copy.txt
      mv copy.txt moved.txt
      sed -i s/one/uno/ made.txt
      rm moved.txt
      echo more >> old.txt
      rm gone.txt
      touch untouched.txt
      """
    ) { folder in
      for name in ["old.txt", "gone.txt"] {
        try "before\n".write(
          to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
      }
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    func operations(_ name: String) -> [WriteLog.Operation] {
      records.filter { $0.path == folder.path + "/" + name }.map(\.operation)
    }
    // sed writes a temporary file beside the one it edits and renames it over it.
    #expect(operations("made.txt") == [.created, .appended, .truncated])
    #expect(operations("copy.txt") == [.created, .removed])
    #expect(operations("moved.txt") == [.created, .removed])
    #expect(operations("old.txt") == [.appended])
    #expect(operations("gone.txt") == [.removed])
    #expect(operations("untouched.txt") == [.created])
    #expect(records.allSatisfy { $0.path.hasPrefix(folder.path + "/") }, "\(records)")
    let appended = records.first { $0.path.hasSuffix("/old.txt") }
    #expect(appended?.stamp?.hasPrefix("7:") == true, "the size as it was opened")

    // What a block that ran this script would be told.
    var byPath: [String: [WriteLog.Record]] = [:]
    for record in records { byPath[record.path, default: []].append(record) }
    let outcomes = byPath.mapValues { FileOutcome($0, now: WriteLog.stamp(of: $0[0].path)) }
    func outcome(_ name: String) -> FileOutcome? { outcomes[folder.path + "/" + name] }
    #expect(outcome("made.txt") == .written)
    #expect(outcome("moved.txt") == .nothing, "made and removed: a temporary file")
    #expect(outcome("old.txt") == .changedInPlace)
    #expect(outcome("gone.txt") == .removed)
    #expect(outcome("untouched.txt") == .written)
    #expect(
      outcomes.filter { $0.key.contains("/sed") }.values.allSatisfy { $0 == .nothing },
      "sed's temporary file")
  }

  @Test("a file opened for writing and left alone is nothing; one opened and changed is")
  func openedAndLeftAlone() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("left-\(UUID())")
    try "same".write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let stamp = WriteLog.stamp(of: file.path)
    let opened = WriteLog.Record(operation: .written, stamp: stamp, path: file.path)
    #expect(FileOutcome([opened], now: stamp) == .nothing)
    #expect(FileOutcome([opened], now: "5:0:0") == .changedInPlace)
    #expect(FileOutcome([opened], now: nil) == .removed)
    let created = WriteLog.Record(operation: .created, stamp: nil, path: file.path)
    #expect(
      FileOutcome(
        [opened, .init(operation: .truncated, stamp: nil, path: file.path)], now: "5:0:0")
        == .written)
    #expect(FileOutcome([created, opened], now: "5:0:0") == .written)
  }

  @Test("a log cut short or written by hand gives the records that parse, never a trap")
  func damagedLog() {
    let good = Data("C - /tmp/a\0A 4:1:2 /tmp/b c\0".utf8)
    #expect(
      WriteLog.parse(good) == [
        .init(operation: .created, stamp: nil, path: "/tmp/a"),
        .init(operation: .appended, stamp: "4:1:2", path: "/tmp/b c"),
      ])
    for cut in 0..<good.count { _ = WriteLog.parse(good.prefix(cut)) }
    #expect(WriteLog.parse(Data("X - /a\0C - relative\0C -\0\0\0 C".utf8)).isEmpty)
  }

  @Test("a block that writes through a descriptor opened before it is refused by the file's name")
  func descriptorOpenedBefore() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID()).txt")
    try "before\n".write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let handle = try FileHandle(forWritingTo: file)
    defer { try? handle.close() }
    try handle.seekToEnd()
    #expect {
      try cached("log") { try handle.write(contentsOf: Data("during\n".utf8)) }
    } throws: { error in
      "\(error)".contains(
        "cached(\"log\") added to \(file.resolvingSymlinksInPath().path) or changed it in place")
    }
  }
}
