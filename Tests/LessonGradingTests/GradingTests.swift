import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit

/// The teacher -> student -> grade cycle through the built `lessons` executable, on
/// `Grading/key.md` and a folder of submissions, one per case: perfect, wrong (fails a
/// hidden check), crash, infinite loop, compile error, forged checks with an edited locked
/// cell and a deleted check, a missing exercise, and a file that is not a lesson.
@Suite("Grading, end to end")
struct GradingTests {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Grading")

  func workspace() throws -> URL {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("grading-\(UUID())")
    try FileManager.default.copyItem(at: Self.folder, to: copy)
    return copy
  }

  @Test func studentVersionHidesSolutionsAndHiddenChecks() throws {
    let work = try workspace()
    let result = try lessons(["export", "key.md", "--student", "-o", "student.md"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    let student = try String(contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    #expect(!student.contains("solution for="))
    #expect(!student.contains("2 * x"))
    #expect(!student.contains("double(21)"))
    #expect(student.contains("```swift exercise id=double points=2"))
    #expect(student.contains("```swift check for=double\n"))
    #expect(student.contains("<!-- lessons: locked cells "))
    // The student's version runs, and fails its checks, as an unsolved exercise should.
    let run = try lessons(["run", "student.md"], in: work)
    #expect(run.status == 1)
  }

  @Test func aFolderIsGradedIntoAGradebook() throws {
    let work = try workspace()
    let result = try lessons(
      ["grade", "submissions", "--key", "key.md", "--timeout", "5", "--jobs", "2"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    let csv = try String(
      contentsOf: work.appendingPathComponent("submissions/gradebook.csv"), encoding: .utf8)
    #expect(
      csv == """
        submission,status,score,max_score,double,sum,shape
        submissions/compile-error.md,ok,3,5,2,1,0
        submissions/crash.md,ok,4,5,2,0,2
        submissions/forged.md,ok,3,5,0,1,2
        submissions/infinite.md,ok,4,5,2,0,2
        submissions/missing.md,ok,4,5,2,0,2
        submissions/not-a-lesson.md,invalid,0,5,0,0,0
        submissions/perfect.md,ok,5,5,2,1,2
        submissions/wrong.md,ok,3,5,0,1,2

        """)
    let json = try Data(contentsOf: work.appendingPathComponent("submissions/gradebook.json"))
    let reports = try JSONDecoder().decode([GradeReport].self, from: json)
    #expect(reports.count == 8)

    let feedbackFolder = work.appendingPathComponent("submissions/feedback")
    let names = try FileManager.default.contentsOfDirectory(atPath: feedbackFolder.path).sorted()
    #expect(names.count == 8)
    for name in names {
      let text = try String(
        contentsOf: feedbackFolder.appendingPathComponent(name), encoding: .utf8)
      // Hidden checks appear by message only, never as code.
      #expect(!text.contains("checkEqual(double(21)"), "\(name)")
    }
    let wrong = try String(
      contentsOf: feedbackFolder.appendingPathComponent("wrong.feedback.md"), encoding: .utf8)
    #expect(wrong.contains("- ✗ double(21) is 42 (hidden check)"))
    #expect(wrong.contains("**Score: 3 / 5**"))
    // A failed visible check says what was got and expected, at its line in the student's
    // file (16 in forged.md; 22 in the key).
    let forged = try String(
      contentsOf: feedbackFolder.appendingPathComponent("forged.feedback.md"), encoding: .utf8)
    #expect(forged.contains("- ✗ double(2) is 4 (line 16): got 0, expected 4"), "\(forged)")
    // A hidden check says nothing but its message.
    #expect(!wrong.contains("expected 42"))
  }

  @Test func forgeriesAndEditsAreNotBelieved() throws {
    let work = try workspace()
    let result = try lessons(
      ["grade", "submissions/forged.md", "--key", "key.md", "--json"], in: work)
    #expect(result.status == 1)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(result.stdout.utf8))
    let double = try #require(report.exercises.first { $0.id == "double" })
    // The exercise printed "✓ ..." and called check(true, ...) itself: neither counts.
    #expect(double.earned == 0)
    #expect(double.checks.map(\.message) == ["double(2) is 4", "double(21) is 42"])
    // The deleted check cell was graded from the key; the edited locked cell was noticed.
    #expect(report.exercises.first { $0.id == "shape" }?.checks.count == 1)
    #expect(report.notes.contains { $0.contains("key line 3 was edited or deleted") })
  }

  @Test func crashesTimeoutsAndCompileErrorsCostOnlyTheirExercise() throws {
    let work = try workspace()
    // Only the infinite loop needs a short limit; the others get room for a loaded machine
    // (the test suite runs fine-tunes and a browser beside them).
    for (name, id, reason, limit) in [
      ("crash", "sum", "crashed: ", 60), ("infinite", "sum", "timed out after 5 s", 5),
      ("compile-error", "shape", "compile error: ", 60),
    ] {
      let result = try lessons(
        ["grade", "submissions/\(name).md", "--key", "key.md", "--json", "--timeout", "\(limit)"],
        in: work)
      let report = try JSONDecoder().decode(GradeReport.self, from: Data(result.stdout.utf8))
      let failed = try #require(report.exercises.first { $0.id == id })
      #expect(failed.earned == 0)
      #expect(failed.error?.hasPrefix(reason) == true, "\(name): \(failed.error ?? "no error")")
      #expect(report.score == report.maxScore - failed.points, "\(name): \(result.stdout)")
    }
  }

  @Test func withoutAKeyTheSubmissionsOwnChecksAreUsed() throws {
    let work = try workspace()
    let result = try lessons(["grade", "submissions/perfect.md", "--json"], in: work)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(result.stdout.utf8))
    #expect(report.checksFrom == "submission")
    #expect(report.notes.contains { $0.contains("no --key given") })
    #expect(report.score == 5)
  }

  @Test func callingTheCellMarkersIsRefusedOrTampering() throws {
    let work = try workspace()
    let path = work.appendingPathComponent("submissions/perfect.md")
    let original = try String(contentsOf: path, encoding: .utf8)
    // From an exercise: refused before the program is built.
    try original.replacingOccurrences(
      of: "  x + x\n", with: "  x + x\n}\n_lessonCellStarted(7, token: 0)\nfunc unused() {\n"
    ).write(to: path, atomically: true, encoding: .utf8)
    let screened = try lessons(
      ["grade", "submissions/perfect.md", "--key", "key.md", "--json"], in: work)
    let refused = try JSONDecoder().decode(GradeReport.self, from: Data(screened.stdout.utf8))
    let double = try #require(refused.exercises.first { $0.id == "double" })
    #expect(double.earned == 0)
    #expect(double.error?.contains("`_lessonCellStarted`") == true, "\(double)")
    #expect(refused.score == refused.maxScore - double.points)
    // From a cell that is not screened (graded without a key), with a guessed token: the
    // runner believes no marker without the token it drew for this run.
    try original.replacingOccurrences(
      of: "let numbers = [1, 2, 3, 4]\n",
      with: "let numbers = [1, 2, 3, 4]\n_lessonCellStarted(1, token: 0)\n"
    ).write(to: path, atomically: true, encoding: .utf8)
    let forged = try lessons(["grade", "submissions/perfect.md", "--json"], in: work)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(forged.stdout.utf8))
    #expect(report.status == .invalid)
    #expect(report.score == 0)
  }

  @Test func aHandOutThatCrashesNamesTheUnsolvedExercise() throws {
    let work = try workspace()
    try """
    # Hint

    ```swift exercise id=double points=2
    func double(_ x: Int) -> Int {
      0  // your code
    }
    ```

    ```swift check for=double
    checkEqual(double(2), 4, "double(2) is 4")
    ```

    ```swift
    let items = Array(repeating: "item", count: double(2))
    print(items[3])
    ```
    """.write(to: work.appendingPathComponent("hint.md"), atomically: true, encoding: .utf8)
    let result = try lessons(["run", "hint.md"], in: work)
    #expect(result.status == 2)
    #expect(
      result.stdout.contains(
        "Index out of range; exercise `double` above is not solved yet (its checks failed)"),
      "\(result.stdout)")
  }

  @Test func shardsGradedApartMergeIntoOneGradebook() throws {
    let work = try workspace()
    for shard in ["1/2", "2/2"] {
      let result = try lessons(
        ["grade", "submissions", "--key", "key.md", "--timeout", "5", "--shard", shard], in: work)
      #expect(result.status == 0, "\(result.stderr)")
    }
    let first = try String(
      contentsOf: work.appendingPathComponent("submissions/gradebook.1-of-2.csv"), encoding: .utf8)
    #expect(first.split(separator: "\n").count == 1 + 4)
    let merge = try lessons(["gradebook", "merge", "submissions"], in: work)
    #expect(merge.status == 0, "\(merge.stderr)")
    let csv = try String(
      contentsOf: work.appendingPathComponent("submissions/gradebook.csv"), encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 1 + 8)
    #expect(csv.contains("submissions/perfect.md,ok,5,5,2,1,2\n"))
    #expect(csv.contains("submissions/crash.md,ok,4,5,2,0,2\n"))
    // A shard that has not run stops the merge, naming it.
    try FileManager.default.removeItem(
      at: work.appendingPathComponent("submissions/gradebook.2-of-2.json"))
    let incomplete = try lessons(["gradebook", "merge", "submissions"], in: work)
    #expect(incomplete.status == 2)
    #expect(incomplete.stderr.contains("shard 2 of 2 is missing"), "\(incomplete.stderr)")
    let nowhere = try lessons(["gradebook", "merge", "no-such-folder"], in: work)
    #expect(nowhere.status == 2)
    #expect(nowhere.stderr.contains("no-such-folder: error: no such folder"), "\(nowhere.stderr)")
  }
}
