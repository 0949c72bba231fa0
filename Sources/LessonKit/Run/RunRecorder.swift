/// The record of a run, folded from its events: each cell's text, events and what was cut,
/// exactly as the live views were shown them.
struct RunRecorder {
  private(set) var cells: [CellOutput] = []

  /// Adds what `event` says to the record.
  mutating func record(_ event: RunEvent) {
    switch event {
    case .cellStarted(let position, let code):
      cells.append(
        CellOutput(
          cell: position, codeCell: code, stdout: "", stderr: "", truncated: false, events: []))
    case .text(_, let text, let stderr):
      guard !cells.isEmpty else { return }
      if stderr {
        cells[cells.count - 1].stderr += text
      } else {
        cells[cells.count - 1].stdout += text
      }
    case .truncated(_, let stderr, let omitted):
      guard !cells.isEmpty else { return }
      let notice = CellOutput.truncationNotice(omitted: omitted)
      cells[cells.count - 1].truncated = true
      if stderr {
        cells[cells.count - 1].stderr += notice
      } else {
        cells[cells.count - 1].stdout += notice
      }
    case .event(_, let runtimeEvent):
      guard !cells.isEmpty else { return }
      var cell = cells.removeLast()
      // A progress bar's updates replace each other: keep its latest state only.
      if case .progress(let label, _, _, _) = runtimeEvent,
        case .progress(label, _, _, _)? = cell.events.last
      {
        cell.events.removeLast()
        cell.eventOffsets.removeLast()
      }
      cell.events.append(runtimeEvent)
      cell.eventOffsets.append(cell.stdout.utf8.count)
      cells.append(cell)
    case .compiling, .started, .cellFinished, .progress, .stopped:
      break
    }
  }
}

extension RunResult {
  /// The run's events again, from its record: what a view of the live run was shown (a
  /// cut stream's notice comes as its text; a progress bar as its last state).
  public var replayed: [RunEvent] {
    var events: [RunEvent] = []
    for cell in cells {
      events.append(.cellStarted(position: cell.cell, code: cell.codeCell))
      for item in cell.items {
        switch item {
        case .text(let text): events.append(.text(position: cell.cell, text, stderr: false))
        case .event(let event): events.append(.event(position: cell.cell, event))
        }
      }
      if !cell.stderr.isEmpty {
        events.append(.text(position: cell.cell, cell.stderr, stderr: true))
      }
      events.append(.cellFinished(position: cell.cell))
    }
    events.append(.stopped(status))
    return events
  }
}
