import Foundation
import LessonKit

/// A student's feedback as Markdown: the score, each exercise's checks by message, and the
/// grader's notes. Hidden checks appear by message only; no check code is ever included.
public func feedbackMarkdown(_ report: GradeReport) -> String {
  var text = "# Feedback: \(report.lesson)\n\n"
  text += "**Score: \(report.score) / \(report.maxScore)**"
  if report.status != .ok { text += " (status: \(report.status.rawValue))" }
  text += "\n"
  for exercise in report.exercises {
    text += "\n## \(exercise.id): \(exercise.earned) / \(exercise.points)\n\n"
    if let error = exercise.error {
      text += "Your code could not be graded as written: \(error)\n\n"
    }
    if exercise.checks.isEmpty && exercise.error == nil {
      text += "No check of this exercise ran.\n"
    }
    for check in exercise.checks {
      text += "- \(check.passed ? "✓" : "✗") \(check.message)"
      if check.hidden { text += " (hidden check)" }
      if let line = check.line { text += " (line \(line))" }
      if let detail = check.detail { text += ": \(detail)" }
      text += "\n"
      if let hint = check.hint { text += "  - Hint: \(hint)\n" }
    }
  }
  if !report.notes.isEmpty {
    text +=
      "\n## Notes\n\n"
      + report.notes.map { "- " + $0.replacingOccurrences(of: "\n", with: "\n  ") }
      .joined(separator: "\n") + "\n"
  }
  return text
}

/// A one-screen summary of a report for the terminal.
public func gradeSummary(_ report: GradeReport) -> String {
  var text = "\(report.lesson): \(report.score) / \(report.maxScore)"
  if report.status != .ok { text += " (\(report.status.rawValue))" }
  text += "\n"
  for exercise in report.exercises {
    text += "  \(exercise.passed ? "✓" : "✗") \(exercise.id) \(exercise.earned)/\(exercise.points)"
    if let error = exercise.error { text += " — \(error)" }
    text += "\n"
    for check in exercise.checks where !check.passed {
      text += "      ✗ \(check.message)" + (check.detail.map { ": \($0)" } ?? "") + "\n"
      if let hint = check.hint { text += "        hint: \(hint)\n" }
    }
  }
  for note in report.notes { text += "  note: \(note)\n" }
  return text
}
