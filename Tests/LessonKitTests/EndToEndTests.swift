import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// Runs the built `lessons` executable, as a user would, on the golden fixtures: each
/// `Fixtures/<case>/lesson.md` with its `arguments`, compared with `expected.txt` (the
/// terminal report without colour, times masked) and `expected-exit`.
/// `UPDATE_GOLDENS=1 swift test` rewrites the expectations.
@Suite("lessons, end to end")
struct EndToEndTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static var cases: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).sorted()
  }

  @Test("golden fixture", arguments: cases)
  func golden(name: String) throws {
    let folder = Self.fixtures.appendingPathComponent(name)
    let extra = try String(contentsOf: folder.appendingPathComponent("arguments"), encoding: .utf8)
      .split(whereSeparator: \.isWhitespace).map(String.init)
    let result = try lessons(["run", "lesson.md"] + extra, in: folder)
    let report = masked(
      result.stdout + (result.stderr.isEmpty ? "" : "--- stderr ---\n" + result.stderr))
    let expectedURL = folder.appendingPathComponent("expected.txt")
    let exitURL = folder.appendingPathComponent("expected-exit")
    if ProcessInfo.processInfo.environment["UPDATE_GOLDENS"] != nil {
      try report.write(to: expectedURL, atomically: true, encoding: .utf8)
      try "\(result.status)\n".write(to: exitURL, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: expectedURL, encoding: .utf8)
    let expectedExit = Int32(
      try String(contentsOf: exitURL, encoding: .utf8).trimmingCharacters(
        in: .whitespacesAndNewlines))
    #expect(report == expected)
    #expect(result.status == expectedExit)
  }

  @Test func writeIsIdempotentAndKeepsProse() throws {
    let folder = try copyFixture("ok")
    let original = try String(
      contentsOf: folder.appendingPathComponent("lesson.md"), encoding: .utf8)
    _ = try lessons(["run", "lesson.md", "--write"], in: folder)
    let once = try String(contentsOf: folder.appendingPathComponent("lesson.md"), encoding: .utf8)
    _ = try lessons(["run", "lesson.md", "--write"], in: folder)
    let twice = try String(contentsOf: folder.appendingPathComponent("lesson.md"), encoding: .utf8)
    #expect(once == twice)
    #expect(once != original)
    #expect(once.contains("```output\ntensor([[ 7., 10.],"))
    #expect(once.contains("steps ████████████████████████ 10/10\n"))
    #expect(once.contains("\n![Loss](lesson.assets/cell-2-plot-1.svg)"))
    let svg = try String(
      contentsOf: folder.appendingPathComponent("lesson.assets/cell-2-plot-1.svg"), encoding: .utf8)
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(svg.contains("<polyline class=\"series\""))
    #expect(svg.contains(">Loss</text>") && svg.contains(">MSE</text>"))
    // Removing the recorded blocks and links gives the original back: prose and code are
    // untouched.
    let stripped = once.replacingOccurrences(
      of: "\n\n```output\n[^`]*```", with: "", options: .regularExpression
    ).replacingOccurrences(of: "\n\n!\\[[^]]*\\]\\([^)]*\\)", with: "", options: .regularExpression)
    #expect(stripped == original)
  }

  @Test func badArgumentsExitTwo() throws {
    let folder = Self.fixtures.appendingPathComponent("ok")
    for arguments in [
      ["run", "lesson.md", "--timeout", "0"], ["export", "lesson.md", "--html", "--student"],
      ["no-such-command"],
    ] {
      let result = try lessons(arguments, in: folder)
      #expect(result.status == 2, "\(arguments)")
      #expect(result.stderr.contains("Error:"), "\(arguments): \(result.stderr)")
    }
    #expect(try lessons(["--help"], in: folder).status == 0)
  }

  @Test func aFailedRunLeavesTheLessonUnchanged() throws {
    let folder = try copyFixture("crash")
    let before = try Data(contentsOf: folder.appendingPathComponent("lesson.md"))
    let result = try lessons(["run", "lesson.md", "--write"], in: folder)
    #expect(result.status == 2)
    #expect(result.stderr.contains("the run did not finish, so the lesson was left unchanged"))
    #expect(try Data(contentsOf: folder.appendingPathComponent("lesson.md")) == before)
  }

  @Test func jsonReport() throws {
    let result = try lessons(
      ["run", "lesson.md", "--json"], in: Self.fixtures.appendingPathComponent("crash"))
    let document =
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
    #expect(document["status"] as? String == "crashed")
    #expect((document["error"] as? [String: Any])?["line"] as? Int == 7)
    let cells = document["cells"] as! [[String: Any]]
    #expect(cells.map { $0["stdout"] as? String } == ["first cell\n", "before the crash\n"])

    // A lesson that does not parse keeps the line of its error too.
    let invalid = try lessons(
      ["run", "lesson.md", "--json"], in: Self.fixtures.appendingPathComponent("unknown-attribute"))
    let error =
      (try JSONSerialization.jsonObject(with: Data(invalid.stdout.utf8)) as? [String: Any])?[
        "error"] as? [String: Any]
    #expect(error?["line"] as? Int == 3, "\(invalid.stdout)")
  }

  @Test func badPaths() throws {
    let missing = try lessons(["run", "no-such-lesson.md"], in: Self.fixtures)
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("no-such-lesson.md: error: no such file"))
    let directory = try lessons(["run", "ok"], in: Self.fixtures)
    #expect(directory.status == 2)
    #expect(directory.stderr.contains("ok: error: is a directory"))
  }

  @Test func theCourseLessonsRunCleanly() throws {
    let root = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let result = try lessons(["run", "00-quick-tour.md"], in: root)
    #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    #expect(result.stdout.contains("✓ the loss fell below 0.01"))
    #expect(result.stdout.contains("9 checks passed"))
  }

  @Test func listShowsTitlesAndCounts() throws {
    let result = try lessons(
      ["list", "."], in: Self.fixtures.appendingPathComponent("solution-runs"))
    #expect(result.stdout.contains("lesson.md  A teacher's file  2      1"))
  }

  /// Masks what changes from run to run (durations, rates) and from edit to edit (the
  /// library's own source lines in fatal errors).
  func masked(_ text: String) -> String {
    text.replacingOccurrences(of: "[0-9]+\\.[0-9]+ s", with: "T s", options: .regularExpression)
      .replacingOccurrences(
        of: "[A-Za-z+/]+\\.swift:[0-9]+: Fatal error", with: "SOURCE: Fatal error",
        options: .regularExpression
      )
      .replacingOccurrences(of: "[0-9.]+/s", with: "R/s", options: .regularExpression)
  }

  func copyFixture(_ name: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lessons-\(UUID())")
    try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: folder)
    return folder
  }
}
