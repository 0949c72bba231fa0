/// How a lesson went, from reading it to the end of its run: the one answer that the
/// terminal, JSON and HTML renderers and the grader all read.
public enum LessonOutcome: Sendable {
  /// It could not be read, planned or built: the error, naming the file and line.
  case notRun(String)
  /// The compiler rejected it.
  case didNotCompile(Lesson, BuildError)
  /// It ran, to the end or not (a program that could not even start crashed before its
  /// first cell).
  case ran(Lesson, RunResult)

  /// The lesson, when it could be read.
  public var lesson: Lesson? {
    switch self {
    case .notRun: return nil
    case .didNotCompile(let lesson, _), .ran(let lesson, _): return lesson
    }
  }

  /// The status word of reports.
  public var status: OutcomeStatus {
    switch self {
    case .notRun: return .invalid
    case .didNotCompile: return .compileError
    case .ran(_, let result): return OutcomeStatus(result.status)
    }
  }

  /// The exit code it earns: success only when every cell ran and every check passed.
  public var exit: LessonExit {
    guard case .ran(_, let result) = self, case .finished = result.status else {
      return .couldNotRun
    }
    return result.checks.allSatisfy(\.passed) ? .success : .checkFailed
  }

  /// What went wrong, in words, when something did: the error, the compiler's output, the
  /// crash or the timeout.
  public var failure: String? {
    switch self {
    case .notRun(let message): return message
    case .didNotCompile(_, let error): return error.output
    case .ran(_, let result): return result.status.message
    }
  }
}

/// How a lesson or a submission went, in one word, as `run --json` and `grade --json` say.
public enum OutcomeStatus: String, Sendable, Codable {
  /// Every cell ran to the end (checks may still have failed).
  case ok
  /// The compiler rejected it.
  case compileError = "compile_error"
  /// The program stopped in a cell, or could not start.
  case crashed
  /// The time limit ran out.
  case timeout
  /// It could not be read or planned, or (when graded) it tampered with the runner.
  case invalid

  /// The word for a run that ended with `status`.
  public init(_ status: RunStatus) {
    switch status {
    case .finished: self = .ok
    case .crashed: self = .crashed
    case .timedOut: self = .timeout
    }
  }
}

extension RunStatus {
  /// The cell it stopped in, when it stopped in one.
  public var cell: Int? {
    switch self {
    case .finished: return nil
    case .crashed(let cell, _), .timedOut(let cell, _): return cell
    }
  }

  /// Why the run stopped, in words ("timed out after 30 s"); `nil` when it finished.
  public var message: String? {
    switch self {
    case .finished: return nil
    case .crashed(_, let reason): return reason
    case .timedOut(_, let seconds): return "timed out after \(secondsText(seconds)) s"
    }
  }

  /// Why the run stopped, as a report says it ("crashed: …", "timed out after 30 s");
  /// `nil` when it finished.
  public var summary: String? {
    switch self {
    case .finished: return nil
    case .crashed(_, let reason): return "crashed: " + reason
    case .timedOut: return message
    }
  }

  /// What the terminal and the page say under lesson cell `cell` when the run stopped
  /// there ("crashed: …", "timed out after 2 s in this cell"), else `nil`.
  public func failure(inCell cell: Int) -> String? {
    guard self.cell == cell, let summary else { return nil }
    if case .timedOut = self { return summary + " in this cell" }
    return summary
  }
}

/// Seconds as people write them: `30`, `2.5`.
func secondsText(_ seconds: Double) -> String {
  seconds == seconds.rounded() && abs(seconds) < 1e15
    ? String(Int(seconds)) : String(seconds)
}
