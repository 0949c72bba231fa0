/// Why a cell after an exercise may have crashed, when the exercise is the likely cause:
/// "exercise `lora-forward` above is not solved yet (its checks failed)". A student's
/// hand-out runs its stubs, and a later cell that uses an unsolved exercise's result can
/// fail in ways that say nothing about the exercise.
///
/// - Returns: `nil` when the run did not stop, stopped in an exercise cell itself (the
///   student's code is to blame, and the message says so), or no exercise before the
///   stopping cell is in doubt.
public func unsolvedExerciseHint(_ lesson: Lesson, _ result: RunResult) -> String? {
  let stoppedAt: Int?
  switch result.status {
  case .finished: return nil
  case .crashed(let cell, _): stoppedAt = cell
  case .timedOut(let cell, _): stoppedAt = cell
  }
  guard let stoppedAt, stoppedAt < lesson.cells.count else { return nil }
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
    return "exercise `\(id)` above is not solved yet (its checks failed), and this cell may "
      + "depend on it"
  }
  if let id = checksPending.last {
    return "exercise `\(id)` above may not be solved yet (its checks have not run), and this "
      + "cell may depend on it"
  }
  return nil
}
