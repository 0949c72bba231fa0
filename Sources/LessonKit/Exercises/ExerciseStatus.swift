/// Where a learner stands on each exercise after a run, as rustlings shows it: which pass,
/// and which comes next.
public struct ExerciseStatus: Sendable, Equatable {
  /// How one exercise stands.
  public enum State: String, Sendable, Equatable, Codable {
    /// Every check of it ran and passed.
    case passed
    /// A check of it failed.
    case failed
    /// Its checks did not all run (the lesson stopped before them), or it has none.
    case notChecked
  }

  /// The exercise's id.
  public var id: String
  /// The line of its cell's fence.
  public var line: Int
  /// How it stands.
  public var state: State

  /// The status of every exercise of `lesson` after `result`, in the lesson's order.
  public static func of(_ lesson: Lesson, _ result: RunResult) -> [ExerciseStatus] {
    let outputs = Dictionary(
      result.cells.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
    return lesson.cells.compactMap { cell in
      guard case .exercise(let id, _) = cell.role else { return nil }
      let checkCells = lesson.cells.filter {
        if case .check(id, _) = $0.role { return true } else { return false }
      }
      let checks = checkCells.compactMap { outputs[$0.index] }.flatMap(\.checks)
      if checks.contains(where: { !$0.passed }) {
        return ExerciseStatus(id: id, line: cell.fenceLine, state: .failed)
      }
      let allRan = !checkCells.isEmpty && checkCells.allSatisfy { result.completed($0.index) }
      return ExerciseStatus(id: id, line: cell.fenceLine, state: allRan ? .passed : .notChecked)
    }
  }
}
