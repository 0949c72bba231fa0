import Foundation
import LessonKit

/// The grading report of one submission, as `lessons grade --json` prints it.
public struct GradeReport: Codable, Sendable {
  /// The submission's path.
  public var lesson: String
  /// How the submission's program went, as `run --json` says it; `invalid` when it could
  /// not be read or it tampered with the runner.
  public var status: OutcomeStatus
  /// Points earned.
  public var score: Int
  /// Points available.
  public var maxScore: Int
  /// Where the check cells came from: `key`, or `submission` when no key was given.
  public var checksFrom: String
  /// Per exercise, in the lesson's order.
  public var exercises: [ExerciseGrade]
  /// Things the grader noticed: edited locked cells, missing exercises, tampering.
  public var notes: [String]

  /// A report from its parts.
  public init(
    lesson: String, status: OutcomeStatus, score: Int, maxScore: Int, checksFrom: String,
    exercises: [ExerciseGrade], notes: [String]
  ) {
    self.lesson = lesson
    self.status = status
    self.score = score
    self.maxScore = maxScore
    self.checksFrom = checksFrom
    self.exercises = exercises
    self.notes = notes
  }
}

/// Results filled in by concurrent workers, each at its own index, under a lock.
private final class ConcurrentResults<R>: @unchecked Sendable {
  var values: [R?]
  let lock = NSLock()
  init(count: Int) { values = Array(repeating: nil, count: count) }
}

/// Runs `work` on every item, at most `jobs` at a time, and returns the results in order.
public func concurrentMap<T: Sendable, R: Sendable>(
  _ items: [T], jobs: Int, _ work: @escaping @Sendable (T) -> R
) -> [R] {
  let results = ConcurrentResults<R>(count: items.count)
  let slots = DispatchSemaphore(value: max(1, jobs))
  let group = DispatchGroup()
  for (index, item) in items.enumerated() {
    slots.wait()
    DispatchQueue.global().async(group: group) {
      let value = work(item)
      results.lock.withLock { results.values[index] = value }
      slots.signal()
    }
  }
  group.wait()
  return results.values.map { $0! }
}

/// How one exercise was graded.
public struct ExerciseGrade: Codable, Sendable {
  /// The exercise's id.
  public var id: String
  /// Points available.
  public var points: Int
  /// Points earned: all or nothing.
  public var earned: Int
  /// Whether every check bound to the exercise ran and passed.
  public var passed: Bool
  /// The checks, visible and hidden (hidden ones by message only).
  public var checks: [GradedCheck]
  /// Why the exercise's code could not be graded as written (compile error, crash,
  /// timeout), when that happened.
  public var error: String?
}

/// One check's outcome in a report. Hidden checks carry their message, never their code.
public struct GradedCheck: Codable, Sendable {
  /// What the check asserts.
  public var message: String
  /// Whether it held.
  public var passed: Bool
  /// The line of the check in the student's file, where the submission has that check
  /// cell; absent for hidden checks and for cells the student deleted.
  public var line: Int?
  /// Whether the check is hidden from students.
  public var hidden: Bool
  /// What was got and what was expected, when a visible check failed (`got 0, expected
  /// 4`); never given for a hidden check, whose expected value is the teacher's.
  public var detail: String?
}

/// Grades a submission: the student's exercise cells run with every other cell taken from
/// `key` (the teacher's lesson, solutions excluded) or, without a key, from the submission.
///
/// A crash, a timeout or a compile error is attributed to the exercise whose cell (or whose
/// check) caused it; that exercise earns nothing and is replaced by the key's solution (the
/// stub, without a key), and the lesson runs again, so the others are graded as if it had
/// been right: one broken exercise never zeroes another.
///
/// Each program's cell markers carry tokens the submission cannot know (see `markerSeed`),
/// so it cannot claim that cells ran which did not.
public func grade(
  submission: Lesson, key: Lesson?, toolchain: Toolchain, cacheDirectory: String,
  limits: RunLimits
) -> GradeReport {
  let reference = key ?? submission
  var notes: [String] = []
  if key == nil {
    notes.append("graded with the submission's own checks (no --key given)")
  }
  let exercises = reference.cells.compactMap { cell -> (id: String, points: Int, cell: Cell)? in
    if case .exercise(let id, let points) = cell.role { return (id, points, cell) }
    return nil
  }
  var studentCode: [String: Cell] = [:]
  for cell in submission.cells {
    if case .exercise(let id, _) = cell.role { studentCode[id] = cell }
  }
  var solutions: [String: Cell] = [:]
  for cell in key?.cells ?? [] {
    if case .solution(let id) = cell.role { solutions[id] = cell }
  }

  notes += lockedCellNotes(submission: submission, reference: reference, hasKey: key != nil)

  // Exercise id -> why its code was replaced by the key's solution (or, without a key, its stub).
  var failures: [String: String] = [:]
  for exercise in exercises where studentCode[exercise.id] == nil {
    failures[exercise.id] = "missing from the submission"
    notes.append("exercise '\(exercise.id)' is missing from the submission")
  }
  // Every cell of the key parsed once, for all the exercises' screens.
  var cellNames: [Int: CellNames] = [:]
  for cell in reference.cells where cell.language == "swift" {
    cellNames[cell.index] = names(in: cell.source)
  }
  for exercise in exercises {
    guard let student = studentCode[exercise.id] else { continue }
    let problems = screen(student, exercise: exercise.id, in: reference, names: cellNames)
    if !problems.isEmpty {
      failures[exercise.id] = "not allowed: " + problems.joined(separator: "; ")
      notes.append(
        "exercise '\(exercise.id)' was not run: " + problems.joined(separator: "; "))
    }
  }
  let settled = runUntilSettled(
    reference: reference, failures: &failures,
    program: { failures in
      gradedProgram(
        reference: reference, submission: submission, studentCode: studentCode,
        solutions: solutions, failures: failures, cacheDirectory: cacheDirectory)
    },
    toolchain: toolchain, cacheDirectory: cacheDirectory, limits: limits)
  if let note = settled.note { notes.append(note) }

  // The key's own run (its solutions, no student code): what each strong check compared
  // there is what it must compare here.
  let keyRun = key.flatMap {
    KeyRuns.shared.checks(
      of: $0, toolchain: toolchain, cacheDirectory: cacheDirectory, limits: limits)
  }
  if key != nil && keyRun == nil {
    notes.append(
      "the key's own run did not finish, so checks were graded on the program's word alone")
  }
  var valueNotes: [String] = []
  let grades = exercises.map { exercise -> ExerciseGrade in
    let checkCells = reference.cells.filter {
      if case .check(exercise.id, _) = $0.role { return true } else { return false }
    }
    var checks: [GradedCheck] = []
    var allRan = !checkCells.isEmpty
    for cell in checkCells {
      let hidden = cell.role == .check(exercise: exercise.id, hidden: true)
      guard let result = settled.result,
        let output = result.cells.first(where: { $0.cell == cell.index }),
        completed(cell.index, in: result)
      else {
        allRan = false
        continue
      }
      // The same locked cell in the student's file, where their line numbers are.
      let studentCell = submission.cells.first { checksum($0) == checksum(cell) }
      let shift = studentCell.map { $0.firstCodeLine - cell.firstCodeLine }
      let keyChecks = keyRun?.cells[cell.index] ?? []
      checks += output.checks.enumerated().map { ordinal, check in
        var graded = GradedCheck(
          message: check.message, passed: check.passed,
          line: hidden ? nil : shift.map { check.line + $0 }, hidden: hidden,
          detail: hidden || check.passed ? nil : check.detail)
        if check.passed, ordinal < keyChecks.count, let reference = keyChecks[ordinal],
          !reference.agrees(with: check.values)
        {
          graded.passed = false
          graded.detail =
            hidden
            ? nil : "its values differ from the key's run, where it expected \(reference.expected)"
          valueNotes.append(
            "the check \"\(check.message)\" passed in the submission's program, but what it "
              + "compared differs from the key's own run: its inputs were changed (shared "
              + "state?) or its result was forged; it counts as failed")
        }
        return graded
      }
    }
    let passed =
      failures[exercise.id] == nil && allRan && !checks.isEmpty && checks.allSatisfy(\.passed)
    return ExerciseGrade(
      id: exercise.id, points: exercise.points, earned: passed ? exercise.points : 0,
      passed: passed,
      checks: checks, error: failures[exercise.id])
  }
  notes += valueNotes
  return GradeReport(
    lesson: submission.path, status: settled.status, score: grades.map(\.earned).reduce(0, +),
    maxScore: exercises.map(\.points).reduce(0, +), checksFrom: key == nil ? "submission" : "key",
    exercises: grades, notes: notes)
}

/// Where the attempts to run a submission ended: the status, the run the checks are read
/// from (none when it did not compile or cannot be trusted), and a note for the report.
private struct Settled {
  var status: OutcomeStatus
  var result: RunResult?
  var note: String?
}

/// What one attempt at running a submission's program ends in.
private enum Attempt {
  /// The grade can be read from it.
  case settled(Settled)
  /// Exercise `exercise` broke the program (`reason`): put its solution in its place and
  /// try again.
  case retry(blaming: String, reason: String)
}

/// Runs the submission's program until an attempt settles. A failure in an exercise (or
/// in a cell after it that uses it) blames that exercise, which earns nothing and is
/// replaced by the key's solution in the next attempt: one broken exercise never zeroes
/// another. Each attempt blames an exercise not blamed before, so at most one attempt per
/// exercise follows the first.
private func runUntilSettled(
  reference: Lesson, failures: inout [String: String],
  program: ([String: String]) -> Program, toolchain: Toolchain, cacheDirectory: String,
  limits: RunLimits
) -> Settled {
  while true {
    switch attempt(
      program(failures), reference: reference, failures: failures, toolchain: toolchain,
      cacheDirectory: cacheDirectory, limits: limits)
    {
    case .settled(let settled):
      return settled
    case .retry(let exercise, let reason):
      failures[exercise] = reason
    }
  }
}

/// Builds and runs `program` once, and says whether its result stands or which exercise
/// to blame.
private func attempt(
  _ program: Program, reference: Lesson, failures: [String: String], toolchain: Toolchain,
  cacheDirectory: String, limits: RunLimits
) -> Attempt {
  // The key's folder, where the lesson's data files are.
  let directory = URL(fileURLWithPath: reference.path).deletingLastPathComponent().path
  switch buildAndRun(
    program, of: reference, toolchain: toolchain, cacheDirectory: cacheDirectory,
    limits: limits, directory: directory)
  {
  case .notRun(let message):
    return .settled(Settled(status: .invalid, note: message))
  case .didNotCompile(_, let error):
    if let id = culprit(of: error, program: program, lesson: reference, failures: failures) {
      return .retry(
        blaming: id, reason: "compile error: " + (error.firstError?.text ?? error.output))
    }
    return .settled(
      Settled(
        status: .compileError,
        note: "the lesson does not compile outside the exercises:\n" + error.output))
  case .ran(_, let result):
    if result.markersTampered {
      return .settled(
        Settled(
          status: .invalid,
          note: "the program's cell markers were called from cell code; nothing can be graded"))
    }
    guard let summary = result.status.summary else {
      return .settled(Settled(status: .ok, result: result))
    }
    if let id = culprit(ofCell: result.status.cell, lesson: reference, failures: failures) {
      return .retry(blaming: id, reason: summary)
    }
    return .settled(
      Settled(
        status: OutcomeStatus(result.status), result: result,
        note: "the lesson stopped outside the exercises: \(summary)"))
  }
}

/// The program of one attempt: the student's exercises, except those blamed so far
/// (`failures`), which get the key's solution (or, without a key, their own stub); every
/// other cell from the key.
private func gradedProgram(
  reference: Lesson, submission: Lesson, studentCode: [String: Cell], solutions: [String: Cell],
  failures: [String: String], cacheDirectory: String
) -> Program {
  let cells = reference.executableCells.map { cell -> ProgramCell in
    if case .exercise(let id, _) = cell.role {
      if failures[id] == nil, let student = studentCode[id] {
        return ProgramCell(
          position: cell.index, code: cell.index, source: student.source,
          file: submission.path, line: student.firstCodeLine)
      }
      if let solution = solutions[id] {
        return ProgramCell(
          position: cell.index, code: solution.index, source: solution.source,
          file: reference.path, line: solution.firstCodeLine)
      }
    }
    return ProgramCell(
      position: cell.index, code: cell.index, source: cell.source, file: reference.path,
      line: cell.firstCodeLine)
  }
  return plan(cells, markerSeed: markerSeed(for: cells, cacheDirectory: cacheDirectory))
}

/// What may not be graded in a student's version of exercise `id`, measured against the
/// names the lesson's other cells use and those the key's own stub and solution declare
/// (`names`: each of the key's cells', by index).
private func screen(
  _ student: Cell, exercise id: String, in reference: Lesson, names: [Int: CellNames]
) -> [String] {
  var referenced = Set<String>()
  var boundLocally = Set<String>()
  var own = Set<String>()
  for cell in reference.cells {
    guard let found = names[cell.index] else { continue }
    switch cell.role {
    case .exercise(id, _), .solution(id): own.formUnion(found.declared)
    default:
      referenced.formUnion(found.referenced)
      boundLocally.formUnion(found.boundLocally)
    }
  }
  // A name the other cells only use as a parameter or a local (`x` in `{ x in ... }`) is
  // no one's to shadow; the rest come from the library, the runtime or the lesson's cells.
  return screenExercise(
    student.source, protectedNames: referenced.subtracting(boundLocally), ownNames: own)
}

/// The seed of a graded program's marker tokens: a hash of this grader's secret (a random
/// file in the build cache, which no sandboxed program can see) and the program's cells.
/// A submission cannot know it; the same submission graded again gets the same program,
/// which the build cache then holds.
private func markerSeed(for cells: [ProgramCell], cacheDirectory: String) -> UInt64 {
  let path = cacheDirectory + "/grader-secret"
  var secret = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
  if secret.count < 32 {
    secret = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }
      .joined()
    try? FileManager.default.createDirectory(
      atPath: cacheDirectory, withIntermediateDirectories: true)
    // Written once, atomically; a concurrent grader may write its own first, and then both
    // read whichever landed.
    FileManager.default.createFile(
      atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
    secret = (try? String(contentsOfFile: path, encoding: .utf8)) ?? secret
  }
  let text = cells.map { "\($0.position)\u{0}\($0.file)\u{0}\($0.line)\u{0}\($0.source)" }
    .joined(separator: "\u{1}")
  return UInt64(stableHash(secret + "\u{2}" + text), radix: 16) ?? 1
}

/// Whether the program cell at lesson position `position` ran to its end.
private func completed(_ position: Int, in result: RunResult) -> Bool {
  guard let index = result.cells.firstIndex(where: { $0.cell == position }) else { return false }
  if case .finished = result.status { return true }
  return index < result.cells.count - 1
}

/// The exercise to blame for a failure in lesson cell `cell`: the exercise itself, the
/// exercise a check cell grades, or else the last exercise before it still graded as
/// written.
private func culprit(ofCell cell: Int?, lesson: Lesson, failures: [String: String]) -> String? {
  guard let cell else { return nil }
  switch lesson.cells[cell].role {
  case .exercise(let id, _), .check(let id, _):
    return failures[id] == nil ? id : nil
  default:
    return lesson.cells[..<cell].reversed().lazy.compactMap { candidate -> String? in
      if case .exercise(let id, _) = candidate.role, failures[id] == nil { return id }
      return nil
    }.first
  }
}

/// The exercise to blame for the first compile error: the one whose cell holds the line
/// the error points at.
private func culprit(
  of error: BuildError, program: Program, lesson: Lesson, failures: [String: String]
) -> String? {
  error.diagnostics.lazy.filter { $0.severity == .error }
    .compactMap { program.cell(containing: $0) }
    .compactMap { culprit(ofCell: $0.position, lesson: lesson, failures: failures) }
    .first
}

/// Notes on locked cells the student changed, found with the key (by comparing code) or,
/// without one, with the checksums that `export --student` recorded.
private func lockedCellNotes(submission: Lesson, reference: Lesson, hasKey: Bool) -> [String] {
  let submitted = Set(submission.cells.filter(isLocked).map(checksum))
  if hasKey {
    // Students never see hidden checks, so only the key's other locked cells are expected.
    let expected = reference.cells.filter { cell in
      if case .check(_, hidden: true) = cell.role { return false }
      return isLocked(cell)
    }
    return expected.filter { !submitted.contains(checksum($0)) }.map {
      "the locked cell at key line \($0.fenceLine) was edited or deleted; graded with the key's version"
    }
  }
  guard let manifest = LockedCellManifest(text: submission.text) else { return [] }
  return Set(manifest.checksums) == submitted
    ? []
    : [
      "locked cells differ from the released student version; without --key they were graded as submitted"
    ]
}
