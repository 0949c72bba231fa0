import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit

/// Every lesson of the course runs to the end with every check passing, and every exercise
/// can be released, solved and graded: the student version scores nothing, and the student
/// version with the solutions typed in scores full marks.
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
    let unsolved = try lessons(
      ["grade", "student.md", "--key", keyPath, "--json", "--timeout", "600"], in: work)
    let unsolvedReport = try JSONDecoder().decode(
      GradeReport.self, from: Data(unsolved.stdout.utf8))
    #expect(unsolvedReport.score == 0, "\(name): the stubs must not pass")
    // The course's lessons (not the quick tour) each have at least two graded exercises.
    if !name.hasPrefix("00") {
      #expect(exercises.count >= 2, "\(name) has \(exercises.count) exercises")
    }

    // Type the solutions into the student's version, as a student who solved them would.
    var solved = try String(contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    for cell in key.cells {
      guard case .solution(let id) = cell.role,
        let stub = key.cells.first(where: { $0.role.exerciseID == id })
      else { continue }
      solved = solved.replacingOccurrences(of: stub.source, with: cell.source)
    }
    try solved.write(
      to: work.appendingPathComponent("solved.md"), atomically: true, encoding: .utf8)
    let graded = try lessons(
      ["grade", "solved.md", "--key", keyPath, "--json", "--timeout", "600"], in: work)
    let report = try JSONDecoder().decode(GradeReport.self, from: Data(graded.stdout.utf8))
    #expect(report.status == .ok)
    #expect(report.score == report.maxScore, "\(name): \(graded.stdout)")
    #expect(report.notes.isEmpty, "\(report.notes)")

    // Fair isolation: the first exercise solved but crashing right after costs only its
    // own points; the key's solution runs in its place, so the others are graded as if it
    // had been right.
    guard let first = exercises.first, case .exercise(let firstID, let firstPoints) = first.role,
      let firstSolution = key.cells.first(where: { $0.role == .solution(exercise: firstID) })
    else { return }
    let crashing = solved.replacingOccurrences(
      of: firstSolution.source,
      with: firstSolution.source + (firstSolution.source.hasSuffix("\n") ? "" : "\n")
        + "fatalError(\"broken on purpose\")\n")
    try crashing.write(
      to: work.appendingPathComponent("crashing.md"), atomically: true, encoding: .utf8)
    let crashed = try lessons(
      ["grade", "crashing.md", "--key", keyPath, "--json", "--timeout", "600"], in: work)
    let crashReport = try JSONDecoder().decode(GradeReport.self, from: Data(crashed.stdout.utf8))
    let broken = try #require(crashReport.exercises.first { $0.id == firstID })
    #expect(broken.earned == 0)
    #expect(broken.error?.contains("broken on purpose") == true, "\(broken)")
    #expect(crashReport.status == .ok, "\(name): \(crashReport.notes)")
    #expect(
      crashReport.score == crashReport.maxScore - firstPoints, "\(name): \(crashed.stdout)")
  }
}
