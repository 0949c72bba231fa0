import Foundation
import LessonKit

/// Where the attempts to run a submission ended: the status, the run the checks are read
/// from (none when it did not compile or cannot be trusted), and a note for the report.
struct Settled {
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
func runUntilSettled(
  reference: Lesson, failures: inout [String: String],
  program: ([String: String]) -> Program, compiler: Compiler,
  limits: RunLimits
) -> Settled {
  while true {
    switch attempt(
      program(failures), reference: reference, failures: failures, compiler: compiler,
      limits: limits)
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
  _ program: Program, reference: Lesson, failures: [String: String], compiler: Compiler,
  limits: RunLimits
) -> Attempt {
  // The key's folder, where the lesson's data files are.
  let directory = URL(fileURLWithPath: reference.path).deletingLastPathComponent().path
  switch compiler.buildAndRun(program, of: reference, limits: limits, directory: directory)
  {
  case .notRun(let error):
    return .settled(Settled(status: .invalid, note: "\(error)"))
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
    guard let summary = result.stopSummary else {
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
func gradedProgram(
  reference: Lesson, submission: Lesson, studentCode: [String: Cell], solutions: [String: Cell],
  failures: [String: String], cacheDirectory: String
) -> Program {
  let cells = reference.executableCells.map { cell -> ProgramCell in
    if case .exercise(let id, _) = cell.role {
      if failures[id] == nil, let student = studentCode[id] {
        return ProgramCell(
          position: cell.index, code: cell.index, source: student.source,
          file: submission.path, line: student.firstCodeLine, isLearnersCode: true)
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
  return Program(cells: cells, markerSeed: markerSeed(for: cells, cacheDirectory: cacheDirectory))
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

/// The exercise to blame for a failure in lesson cell `cell`: the exercise itself, the
/// exercise a check cell grades, or else the last exercise before it still graded as
/// written.
func culprit(ofCell cell: Int?, lesson: Lesson, failures: [String: String]) -> String? {
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
func culprit(
  of error: BuildError, program: Program, lesson: Lesson, failures: [String: String]
) -> String? {
  error.diagnostics.lazy.filter { $0.severity == .error }
    .compactMap { program.cell(containing: $0) }
    .compactMap { culprit(ofCell: $0.position, lesson: lesson, failures: failures) }
    .first
}
