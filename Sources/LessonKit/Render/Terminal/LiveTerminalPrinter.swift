/// Prints a run on a terminal while it happens: each cell's rule and code when it starts,
/// its text as it is printed, and its checks, tables and plots when it makes them; the
/// crash line and the summary at the end. `TerminalRenderer.render` is this printer fed the
/// run's record again, so the live and the final report are one view of one stream.
public final class LiveTerminalPrinter {
  private let renderer: TerminalRenderer
  private let lesson: Lesson
  private let numbers: [Int: Int]
  private let write: (String) -> Void
  /// The cell being shown, and what has been printed under it.
  private var cell: Int?
  private var headerShown = false
  private var printedInCell = ""
  /// A progress bar's latest state: printed once the bar is done with (another event, or
  /// the cell's end), as the report keeps only its last state.
  private var pendingProgress: RuntimeEvent?
  /// The standard error of the cell that ended last, printed when the next starts or the
  /// run ends (then without the runtime's message when the program crashed there).
  private var pendingStderr: String?
  private var cellsShown = Set<Int>()

  /// A printer for `lesson` that hands its text to `write`.
  public init(lesson: Lesson, renderer: TerminalRenderer, write: @escaping (String) -> Void) {
    self.lesson = lesson
    self.renderer = renderer
    self.numbers = lesson.cellNumbers
    self.write = write
    write(renderer.title(lesson))
  }

  /// Shows what the running lesson just did.
  public func show(_ item: RunEvent) {
    switch item {
    case .cellStarted(let position, let code):
      closeCell(result: nil)
      cell = position
      headerShown = false
      printedInCell = ""
      if lesson.cells[position].role != .hidden { showHeader(code: code) }
    case .text(_, let text, stderr: false):
      // A bar that has finished came before this text; one still running goes on after it.
      if case .progress(_, let done, let total, _)? = pendingProgress, done >= total {
        flushProgress()
      }
      emit(text)
    case .text(_, let text, stderr: true):
      pendingStderr = (pendingStderr ?? "") + text
    case .truncated:
      show(item.truncationAsText)
    case .event(_, let event):
      if case .progress(let label, _, _, _) = event {
        if case .progress(let pending, _, _, _)? = pendingProgress, pending != label {
          flushProgress()
        }
        pendingProgress = event
      } else {
        flushProgress()
        emit(separated(renderer.render(event)))
      }
    case .cellFinished:
      flushProgress()
    case .compiling, .started, .progress, .stopped:
      break
    }
  }

  /// Ends the report once the run is over: the last cell's standard error and crash line,
  /// then the summary.
  public func finish(_ result: RunResult) {
    closeCell(result: result)
    write(renderer.closing(result, cellShown: { self.cellsShown.contains($0) }))
  }

  private func showHeader(code: Int? = nil) {
    guard let cell, !headerShown else { return }
    headerShown = true
    cellsShown.insert(cell)
    write(
      renderer.header(lesson.cells[cell], code: lesson.cells[code ?? cell], number: numbers[cell]))
  }

  /// Prints under the current cell, opening a hidden cell's rule first.
  private func emit(_ text: String) {
    guard !text.isEmpty else { return }
    showHeader()
    printedInCell += text
    write(text)
  }

  /// `text` on a line of its own after what the cell printed.
  private func separated(_ text: String) -> String {
    (!printedInCell.isEmpty && !printedInCell.hasSuffix("\n") ? "\n" : "") + text
  }

  private func flushProgress() {
    guard let progress = pendingProgress else { return }
    pendingProgress = nil
    emit(separated(renderer.render(progress)))
  }

  /// Finishes the current cell: its standard error, its line ending, and (with the run's
  /// `result`, at the end) why the run stopped there.
  private func closeCell(result: RunResult?) {
    guard let cell else { return }
    flushProgress()
    if let stderr = pendingStderr {
      let shown = result.map { renderer.stderrShown(stderr, in: cell, $0) } ?? stderr
      if !shown.isEmpty { emit(separated(renderer.yellow(shown))) }
      pendingStderr = nil
    }
    if !printedInCell.isEmpty && !printedInCell.hasSuffix("\n") { emit("\n") }
    if let result {
      let failure = renderer.failure(in: cell, result)
      if !failure.isEmpty { emit(failure) }
    }
    self.cell = nil
  }
}
