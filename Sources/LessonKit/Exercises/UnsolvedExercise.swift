/// An exercise before the cell a run stopped in that is not solved yet, and may be why it
/// stopped: a student's hand-out runs its stubs, and a later cell that uses an unsolved
/// exercise's result can fail in ways that say nothing about the exercise.
public struct UnsolvedExercise: Sendable, Equatable {
  /// The exercise's id.
  public var id: String
  /// Whether its checks ran and failed; otherwise they have not run.
  public var checksFailed: Bool

  /// The last exercise before the stopping cell whose checks failed, else the last whose
  /// checks have not all run.
  ///
  /// - Returns: `nil` when the run did not stop, stopped in an exercise cell itself (the
  ///   student's code is to blame, and the message says so), or no exercise before the
  ///   stopping cell is in doubt.
  public init?(suspectedIn lesson: Lesson, _ result: RunResult) {
    guard let stoppedAt = result.status.cell, stoppedAt < lesson.cells.count else { return nil }
    if case .exercise = lesson.cells[stoppedAt].role { return nil }
    var checksFailed: [String] = []
    var checksPending: [String] = []
    for cell in lesson.cells[..<stoppedAt] {
      guard case .exercise(let id, _) = cell.role else { continue }
      let checkCells = lesson.cells.filter { $0.role == .check(exercise: id, hidden: false) }
      let ran = result.cells.filter { output in
        output.cell < stoppedAt && checkCells.contains { $0.index == output.cell }
      }
      if ran.flatMap(\.checks).contains(where: { !$0.passed }) {
        checksFailed.append(id)
      } else if ran.count < checkCells.count {
        checksPending.append(id)
      }
    }
    if let id = checksFailed.last {
      self.init(id: id, checksFailed: true)
    } else if let id = checksPending.last {
      self.init(id: id, checksFailed: false)
    } else {
      return nil
    }
  }

  /// An exercise in doubt.
  public init(id: String, checksFailed: Bool) {
    self.id = id
    self.checksFailed = checksFailed
  }
}
