#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// The words for how a run stopped: every report (terminal, JSON, HTML, the grader's notes)
// takes them from here.

extension StopCause {
  /// What happened, as a report says it after "crashed: ".
  public var words: String {
    switch self {
    case .cancelled: return "stopped before the end, as asked"
    case .timeout(let seconds): return "timed out after \(secondsText(seconds)) s"
    case .memory(let limit):
      return "stopped after using more than \(byteCount(limit)) of memory (the --memory limit; "
        + "raise it, or use smaller tensors or batches)"
    case .threads(let limit): return "stopped after starting more than \(limit) threads"
    case .cpuTime(let limit):
      return "stopped after using more than \(limit) s of CPU time (the --cpu-time limit)"
    case .output(let limit): return "stopped after printing more than \(limit >> 20) MB"
    case .fileSize(let limit):
      return "stopped for writing a file larger than \(byteCount(limit)) (the --file-size limit)"
    case .exit(let status, let message):
      return "the program exited with status \(status)" + (message.map { ": \($0)" } ?? "")
    case .signal(let signal, let message): return Self.words(signal: signal, message)
    case .couldNotStart(let error): return "the program could not be started: \(error)"
    }
  }

  /// Why a signal ended the program, in words.
  private static func words(signal: Int32, _ runtimeMessage: String?) -> String {
    let quoted = runtimeMessage.map { ": \($0)" } ?? ""
    switch signal {
    case SIGILL, SIGTRAP:
      // How Swift stops on a failed precondition, an overflow or fatalError(): the message
      // says which, and the signal's name would only puzzle a learner.
      return "a Swift runtime error"
        + (runtimeMessage.map { ": \($0)" }
          ?? " (a failed precondition, an overflow, an index out of range or a fatalError)")
    case SIGSEGV, SIGBUS: return "a bad memory access (signal \(signal))\(quoted)"
    case SIGFPE: return "an arithmetic error (signal \(signal))\(quoted)"
    case SIGABRT: return "the program aborted\(quoted)"
    case SIGKILL:
      return "the program was killed (signal 9), as the system does when memory runs out"
    default: return "the program was stopped by signal \(signal)\(quoted)"
    }
  }
}

extension UnsolvedExercise {
  /// "exercise `double` above is not solved yet (its checks failed), and this cell may
  /// depend on it".
  public var words: String {
    checksFailed
      ? "exercise `\(id)` above is not solved yet (its checks failed), and this cell may "
        + "depend on it"
      : "exercise `\(id)` above may not be solved yet (its checks have not run), and this "
        + "cell may depend on it"
  }
}

extension RunResult {
  /// Why the run stopped, in words ("timed out after 30 s"), with the exercise it may come
  /// from; `nil` when it finished.
  public var stopMessage: String? {
    guard case .stopped(_, let cause) = status else { return nil }
    if case .timeout = cause { return cause.words }
    return cause.words + (suspect.map { "; " + $0.words } ?? "")
  }

  /// Why the run stopped, as a report says it ("crashed: …", "timed out after 30 s");
  /// `nil` when it finished.
  public var stopSummary: String? {
    guard case .stopped(_, let cause) = status, let stopMessage else { return nil }
    if case .timeout = cause { return stopMessage }
    return "crashed: " + stopMessage
  }

  /// What the terminal and the page say under lesson cell `cell` when the run stopped
  /// there ("crashed: …", "timed out after 2 s in this cell"), else `nil`.
  public func failure(inCell cell: Int) -> String? {
    guard status.cell == cell, let stopSummary else { return nil }
    if case .stopped(_, .timeout) = status { return stopSummary + " in this cell" }
    return stopSummary
  }
}

/// Seconds as people write them: `30`, `2.5`.
func secondsText(_ seconds: Double) -> String {
  seconds == seconds.rounded() && abs(seconds) < 1e15
    ? String(Int(seconds)) : String(seconds)
}
