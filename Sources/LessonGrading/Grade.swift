import Foundation
import LessonKit
import LessonSyntax

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
  submission: Lesson, key: Lesson?, compiler: Compiler,
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
  var failures = refusedExercises(
    exercises.map(\.id), studentCode: studentCode, reference: reference, notes: &notes)
  let settled = runUntilSettled(
    reference: reference, failures: &failures,
    program: { failures in
      gradedProgram(
        reference: reference, submission: submission, studentCode: studentCode,
        solutions: solutions, failures: failures, cacheDirectory: compiler.cacheDirectory)
    },
    compiler: compiler, limits: limits)
  if let note = settled.note { notes.append(note) }

  // The key's own run (its solutions, no student code): what each strong check compared
  // there is what it must compare here.
  let keyRun = key.flatMap {
    KeyRuns.shared.checks(
      of: $0, compiler: compiler, limits: limits)
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
    // Per check cell, its graded checks, or nil when it did not run to its end.
    let perCell = checkCells.map { cell in
      gradedChecks(
        of: cell, result: settled.result, submission: submission,
        keyChecks: keyRun?.cells[cell.index] ?? [], notes: &valueNotes)
    }
    let checks = perCell.compactMap { $0 }.flatMap { $0 }
    let passed =
      failures[exercise.id] == nil && !perCell.isEmpty && !perCell.contains { $0 == nil }
      && !checks.isEmpty && checks.allSatisfy(\.passed)
    return ExerciseGrade(
      id: exercise.id, points: exercise.points, earned: passed ? exercise.points : 0,
      passed: passed, checks: checks, error: failures[exercise.id])
  }
  notes += valueNotes
  return GradeReport(
    lesson: submission.path, status: settled.status, score: grades.map(\.earned).reduce(0, +),
    maxScore: exercises.map(\.points).reduce(0, +), checksFrom: key == nil ? "submission" : "key",
    exercises: grades, notes: notes)
}

/// The exercises that cannot run as the student wrote them, each with the reason: missing
/// from the submission, or refused by the screen (a name it may not declare, an import...).
/// Each also gets a note.
private func refusedExercises(
  _ ids: [String], studentCode: [String: Cell], reference: Lesson, notes: inout [String]
) -> [String: String] {
  var failures: [String: String] = [:]
  for id in ids where studentCode[id] == nil {
    failures[id] = "missing from the submission"
    notes.append("exercise '\(id)' is missing from the submission")
  }
  // Every cell of the key parsed once, for all the exercises' screens.
  var cellNames: [Int: CellNames] = [:]
  for cell in reference.cells where cell.language == "swift" {
    cellNames[cell.index] = CellNames(cell.source)
  }
  for id in ids {
    guard let student = studentCode[id] else { continue }
    let problems = screen(student, exercise: id, in: reference, names: cellNames)
    if !problems.isEmpty {
      failures[id] = "not allowed: " + problems.joined(separator: "; ")
      notes.append("exercise '\(id)' was not run: " + problems.joined(separator: "; "))
    }
  }
  return failures
}

/// The checks that check cell `cell` of the key made in `result`, graded: a passed strong
/// check also has to compare what it compared in the key's own run (`keyChecks`, the
/// values of this cell's checks there), else it fails and a note says why. Lines are the
/// student's, where their file has the same locked cell. `nil` when the cell did not run
/// to its end.
private func gradedChecks(
  of cell: Cell, result: RunResult?, submission: Lesson, keyChecks: [CheckValues?],
  notes: inout [String]
) -> [GradedCheck]? {
  guard let result, let output = result.cells.first(where: { $0.cell == cell.index }),
    result.completed(cell.index)
  else { return nil }
  var hidden = false
  if case .check(_, hidden: true) = cell.role { hidden = true }
  let studentCell = submission.cells.first { checksum($0) == checksum(cell) }
  let shift = studentCell.map { $0.firstCodeLine - cell.firstCodeLine }
  return output.checks.enumerated().map { ordinal, check in
    var graded = GradedCheck(
      message: check.message, passed: check.passed,
      line: hidden ? nil : shift.map { check.line + $0 }, hidden: hidden,
      detail: hidden || check.passed ? nil : check.detail,
      hint: hidden || check.passed ? nil : check.hint)
    if check.passed, ordinal < keyChecks.count, let reference = keyChecks[ordinal],
      !reference.agrees(with: check.values)
    {
      graded.passed = false
      graded.detail =
        hidden
        ? nil : "its values differ from the key's run, where it expected \(reference.expected)"
      notes.append(
        "the check \"\(check.message)\" passed in the submission's program, but what it "
          + "compared differs from the key's own run: its inputs were changed (shared "
          + "state?) or its result was forged; it counts as failed")
    }
    return graded
  }
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
