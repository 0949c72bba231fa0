import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit

/// Every lesson of the course runs to the end with every check passing, and every exercise
/// can be released, solved and graded: a stub earns nothing, a solution typed into the
/// student version earns the exercise's points, and a crash costs only its own.
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

    // Two submissions grade every exercise both ways, at the cost of two runs of the lesson
    // (lessons 03 and 04 fine-tune a GPT, and the course's tests are most of CI's time):
    // 1. the first exercise solved, the others left as handed out: the first earns its
    //    points, each stub earns nothing;
    // 2. the first solved but crashing right after, the others solved: fair isolation. The
    //    crash costs only its own points; the key's solution runs in its place, so the
    //    others are graded as if it had been right, and earn theirs.
    // The first exercise's stub fails in the hand-out's run above.
    guard let first = exercises.first, case .exercise(let firstID, let firstPoints) = first.role,
      let firstSolution = key.cells.first(where: { $0.role == .solution(exercise: firstID) })
    else { return }
    let handOutText = try String(
      contentsOf: work.appendingPathComponent("student.md"), encoding: .utf8)
    func typing(_ solutions: [Cell], into text: String) -> String {
      solutions.reduce(text) { text, solution in
        guard case .solution(let id) = solution.role,
          let stub = key.cells.first(where: { $0.role.exerciseID == id })
        else { return text }
        return text.replacingOccurrences(of: stub.source, with: solution.source)
      }
    }
    func grade(_ text: String, as file: String) throws -> GradeReport {
      try text.write(to: work.appendingPathComponent(file), atomically: true, encoding: .utf8)
      let graded = try lessons(
        ["grade", file, "--key", keyPath, "--json", "--timeout", "600"], in: work)
      return try JSONDecoder().decode(GradeReport.self, from: Data(graded.stdout.utf8))
    }

    let firstOnly = try grade(typing([firstSolution], into: handOutText), as: "first-only.md")
    #expect(firstOnly.status == .ok, "\(name): \(firstOnly.notes)")
    for exercise in firstOnly.exercises {
      let expected = exercise.id == firstID ? firstPoints : 0
      #expect(exercise.earned == expected, "\(name), \(exercise.id): \(exercise)")
    }

    let solutions = key.cells.filter {
      if case .solution = $0.role { return true } else { return false }
    }
    let crashing = typing(solutions, into: handOutText).replacingOccurrences(
      of: firstSolution.source,
      with: firstSolution.source + (firstSolution.source.hasSuffix("\n") ? "" : "\n")
        + "fatalError(\"broken on purpose\")\n")
    let crashReport = try grade(crashing, as: "crashing.md")
    let broken = try #require(crashReport.exercises.first { $0.id == firstID })
    #expect(broken.earned == 0)
    #expect(broken.error?.contains("broken on purpose") == true, "\(broken)")
    #expect(crashReport.status == .ok, "\(name): \(crashReport.notes)")
    #expect(crashReport.notes.isEmpty, "\(crashReport.notes)")
    #expect(
      crashReport.score == crashReport.maxScore - firstPoints, "\(name): \(crashReport)")
  }
}
