/// How a lesson went, from reading it to the end of its run: the one answer that the
/// terminal, JSON and HTML renderers and the grader all read.
public enum LessonOutcome: Sendable {
  /// It could not be read, planned or built: the error, naming the file and line.
  case notRun(LessonError)
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
    case .notRun(let error): return "\(error)"
    case .didNotCompile(_, let error): return error.output
    case .ran(_, let result): return result.stopMessage
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
    case .stopped(_, .timeout): self = .timeout
    case .stopped: self = .crashed
    }
  }
}
