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
  /// What to try, from the check's `hint:`, when a visible check failed.
  public var hint: String?
}
