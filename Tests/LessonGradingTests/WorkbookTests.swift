import Foundation
import LessonKit
import LessonTestSupport
import Testing

/// A learner alone with a workbook, as `lessons start` makes it: a course of one lesson (the
/// grading fixture, three exercises), checked, solved, reset and updated from a newer course.
@Suite("The learner's workbook", .serialized)
struct WorkbookTests {
  /// A course folder holding the grading fixture as its one lesson, and a folder to work in.
  func course() throws -> (course: URL, home: URL) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("workbook-\(UUID())")
    let course = root.appendingPathComponent("course")
    try FileManager.default.createDirectory(
      at: course.appendingPathComponent("data"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: Repository.tests("LessonGradingTests/Grading/key.md"),
      to: course.appendingPathComponent("01-basics.md"))
    return (course, root)
  }

  func progress(_ workbook: URL) throws -> Workbook {
    try Workbook.load(workbook.appendingPathComponent(Workbook.fileName).path)
  }

  @Test func startCheckSolveAndProgressMoveTheCountByOne() throws {
    let (course, home) = try course()
    let start = try lessons(["start", "--course", course.path], in: home)
    #expect(start.status == 0, "\(start.stdout)\n\(start.stderr)")
    let workbook = home.appendingPathComponent("lora-workbook")
    let lesson = workbook.appendingPathComponent("01-basics.md")
    let text = try String(contentsOf: lesson, encoding: .utf8)
    #expect(!text.contains("solution for="), "the workbook holds the students' version")
    #expect(text.contains("exercise id=double"))
    #expect(
      try FileManager.default.destinationOfSymbolicLink(
        atPath: workbook.appendingPathComponent("data").path) == course.path + "/data")
    #expect(start.stdout.contains("Next: 01-basics.md:"), "\(start.stdout)")

    var shown = try lessons(["progress"], in: workbook)
    #expect(shown.stdout.contains("0/3 exercises"), "\(shown.stdout)")

    // The solution waits for a try.
    let early = try lessons(["solution", "double", "--yes"], in: workbook)
    #expect(early.status == 2 && early.stderr.contains("try 'double' first"), "\(early.stderr)")

    // The stubs fail their checks, at the learner's lines.
    let failed = try lessons(["check"], in: workbook)
    #expect(failed.status == 1, "\(failed.stdout)\n\(failed.stderr)")
    #expect(failed.stdout.contains("01-basics.md:"), "\(failed.stdout)")
    #expect(failed.stdout.contains("✗ double 0/2"), "\(failed.stdout)")
    #expect(
      try progress(workbook).lessons["01-basics.md"]?.exercises["double"]?.failedChecks ?? 0 > 0)

    let solution = try lessons(["solution", "double", "--yes"], in: workbook)
    #expect(solution.status == 0 && solution.stdout.contains("2 * x"), "\(solution.stdout)")

    // One exercise solved: the count moves by one.
    try text.replacingOccurrences(
      of: "  0  // your code\n}\n```\n\n```swift check for=double",
      with: "  2 * x\n}\n```\n\n```swift check for=double"
    )
    .write(to: lesson, atomically: true, encoding: .utf8)
    #expect(try String(contentsOf: lesson, encoding: .utf8).contains("  2 * x\n"))
    let passed = try lessons(["check", "01-basics.md"], in: workbook)
    #expect(passed.stdout.contains("✓ double 2/2"), "\(passed.stdout)")
    #expect(passed.stdout.contains("1/3 exercises"), "\(passed.stdout)")
    shown = try lessons(["progress"], in: workbook)
    #expect(shown.stdout.contains("1/3 exercises"), "\(shown.stdout)")
    #expect(shown.stdout.contains("Next: 01-basics.md:"), "\(shown.stdout)")

    // A workbook with the learner's edits is never overwritten.
    let again = try lessons(["start", "--course", course.path], in: home)
    #expect(
      again.status == 2 && again.stderr.contains("holds your edits (01-basics.md)"),
      "\(again.stderr)")
    #expect(try String(contentsOf: lesson, encoding: .utf8).contains("  2 * x\n"))

    // A newer course (a reworded check, a new exercise) comes in around the learner's code.
    let key = course.appendingPathComponent("01-basics.md")
    try
      (String(contentsOf: key, encoding: .utf8)
      .replacingOccurrences(of: "\"double(2) is 4\"", with: "\"twice 2 is 4\"")
      + "\n## Triple\n\n```swift exercise id=triple points=1\nfunc triple(_ x: Int) -> Int {\n  0  // your code\n}\n```\n\n"
      + "```swift solution for=triple\nfunc triple(_ x: Int) -> Int {\n  3 * x\n}\n```\n\n"
      + "```swift check for=triple\ncheckEqual(triple(2), 6, \"triple(2) is 6\")\n```\n")
      .write(to: key, atomically: true, encoding: .utf8)
    let update = try lessons(["start", "--update"], in: home)
    #expect(update.status == 0, "\(update.stdout)\n\(update.stderr)")
    let merged = try String(contentsOf: lesson, encoding: .utf8)
    #expect(merged.contains("  2 * x\n") && merged.contains("twice 2 is 4"), "\(merged)")
    #expect(merged.contains("exercise id=triple"))
    let backups = try FileManager.default.contentsOfDirectory(
      atPath: workbook.appendingPathComponent(".lessons-backup").path)
    #expect(backups.count == 1, "\(backups)")
    shown = try lessons(["progress"], in: workbook)
    #expect(shown.stdout.contains("1/4 exercises"), "\(shown.stdout)")

    // Reset puts the stub back, and the code in a backup.
    let reset = try lessons(["reset", "01-basics.md", "double"], in: workbook)
    #expect(reset.status == 0, "\(reset.stderr)")
    #expect(!(try String(contentsOf: lesson, encoding: .utf8)).contains("  2 * x\n"))
    #expect(try progress(workbook).lessons["01-basics.md"]?.exercises["double"]?.solved == false)
  }

  @Test func outsideAWorkbookAndIntoAForeignFolderTheCommandsSayWhatToDo() throws {
    let (course, home) = try course()
    let check = try lessons(["check"], in: home)
    #expect(
      check.status == 2 && check.stderr.contains("not in a workbook: `lessons start`"),
      "\(check.stderr)"
    )
    let progress = try lessons(["progress"], in: home)
    #expect(progress.status == 2 && progress.stderr.contains("not in a workbook"))
    let notes = home.appendingPathComponent("notes")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    try "mine".write(
      to: notes.appendingPathComponent("todo.txt"), atomically: true, encoding: .utf8)
    let start = try lessons(["start", "notes", "--course", course.path], in: home)
    #expect(start.status == 2 && start.stderr.contains("is not a workbook"), "\(start.stderr)")
    #expect(
      try String(contentsOf: notes.appendingPathComponent("todo.txt"), encoding: .utf8) == "mine")
    // A course that moved is named where it was looked for.
    #expect(try lessons(["start", "wb", "--course", course.path], in: home).status == 0)
    try FileManager.default.moveItem(at: course, to: home.appendingPathComponent("moved"))
    let moved = try lessons(["check", "01-basics.md"], in: home.appendingPathComponent("wb"))
    #expect(moved.status == 2 && moved.stderr.contains(course.path), "\(moved.stderr)")
  }
}
