import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit

/// Every lesson of the course runs to the end with every check passing, and every exercise
/// can be released, solved and graded: a stub fails, a solution typed into the student
/// version earns the exercise's points, and a crash costs only its own.
@Suite("The course", .serialized)
struct CourseTests {
  static let lessonsFolder = Repository.lessons
  static var lessonNames: [String] { Repository.lessonNames }

  /// A lesson with cached blocks runs cleanly, uncached and cached, in `CellCacheTests`.
  @Test(
    "lesson runs cleanly, and prints what its file records",
    arguments: lessonNames.filter { !Repository.cachingLessons.contains($0) })
  func runs(name: String) throws {
    let copy = try Repository.copyOfLesson(name)
    defer { try? FileManager.default.removeItem(at: copy) }
    let result = try lessons(
      ["run", name, "--write", "--timeout", "300"], in: copy,
      environment: Repository.recordingKernels)
    #expect(result.status == 0, "\(name):\n\(result.stdout.suffix(3000))\n\(result.stderr)")
    let stale = try Repository.staleOutputs(name, rewrittenIn: copy)
    #expect(stale == nil, "\(stale ?? "")")
  }

  @Test("exercises can be released, solved and graded", arguments: lessonNames)
  func grades(name: String) throws {
    let key = try Lesson(contentsOf: Self.lessonsFolder.appendingPathComponent(name).path)
    let exercises = key.cells.filter {
      if case .exercise = $0.role { return true } else { return false }
    }
    guard !exercises.isEmpty else { return }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("course-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let keyPath = Self.lessonsFolder.appendingPathComponent(name).path

    let export = try lessons(["export", keyPath, "--student", "-o", "student.md"], in: work)
    #expect(export.status == 0, "\(export.stderr)")
    let student = try String(contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    #expect(!student.contains(".assets/"), "\(name): the hand-out links the key's plots")
    // The hand-out runs as a student gets it, beside the course's data: to the end (its
    // checks failing), or stopping with the exercise that is not solved yet.
    for folder in ["models", "data"] {
      try FileManager.default.createSymbolicLink(
        at: work.appendingPathComponent(folder),
        withDestinationURL: Self.lessonsFolder.appendingPathComponent(folder))
    }
    let handOut = try lessons(["run", "student.md", "--json", "--timeout", "600"], in: work)
    #expect(
      handOut.status == 1
        || (handOut.status == 2 && handOut.stdout.contains("above is not solved yet")),
      "\(name): the hand-out stopped without saying why:\n\(handOut.stdout.suffix(2000))")
    // The course's lessons (not the quick tour) each have at least two graded exercises.
    if !name.hasPrefix("00") {
      #expect(exercises.count >= 2, "\(name) has \(exercises.count) exercises")
    }

    // One submission, one graded run of the lesson (lessons 03 and 04 fine-tune a GPT, and
    // their runs are most of CI's time), grades the exercises three ways:
    // - the first solved but crashing right after: it earns nothing, with the crash as its
    //   reason, and costs nothing else (fair isolation: the key's solution runs in its place);
    // - with three or more exercises, the second left as handed out: its stub earns nothing;
    // - every other one solved: each earns its points.
    // Every stub fails in the hand-out's run above, and every solution passes every check in
    // the key's own run, which the recorded-outputs tests make.
    let ids = exercises.compactMap { cell -> (id: String, points: Int)? in
      guard case .exercise(let id, let points) = cell.role else { return nil }
      return (id, points)
    }
    guard let first = ids.first,
      let firstSolution = key.cells.first(where: { $0.role == .solution(exercise: first.id) })
    else { return }
    let stubbed = ids.count >= 3 ? ids[1].id : nil
    var submission = try String(
      contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    for cell in key.cells {
      guard case .solution(let id) = cell.role, id != stubbed,
        let stub = key.cells.first(where: { $0.role.exerciseID == id })
      else { continue }
      let crash =
        id == first.id
        ? (cell.source.hasSuffix("\n") ? "" : "\n") + "fatalError(\"broken on purpose\")\n" : ""
      submission = submission.replacingOccurrences(of: stub.source, with: cell.source + crash)
    }
    try submission.write(
      to: work.appendingPathComponent("submission.md"), atomically: true, encoding: .utf8)
    let graded = try lessons(
      ["grade", "submission.md", "--key", keyPath, "--json", "--timeout", "600"], in: work)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(graded.stdout.utf8))
    #expect(report.status == .ok, "\(name): \(report.notes)")
    #expect(report.notes.isEmpty, "\(report.notes)")
    for (id, points) in ids {
      let exercise = try #require(report.exercises.first { $0.id == id }, "\(name): \(id)")
      switch id {
      case first.id:
        #expect(exercise.earned == 0)
        #expect(exercise.error?.contains("broken on purpose") == true, "\(exercise)")
      case stubbed:
        #expect(exercise.earned == 0, "\(name), \(id)'s stub: \(exercise)")
        #expect(!exercise.checks.isEmpty && exercise.checks.contains { !$0.passed })
      default:
        #expect(exercise.earned == points, "\(name), \(id): \(exercise)")
      }
    }
  }
}
