/// Why a program stopped before the end of the lesson. Only facts: the words for each are
/// made where reports are (`Render/StopWords.swift`).
public enum StopCause: Sendable, Equatable {
  /// Stopped as asked (`Cancellation`).
  case cancelled
  /// The `--timeout` ran out after `seconds`.
  case timeout(seconds: Double)
  /// The program and its processes used more than `limit` bytes of memory (`--memory`).
  case memory(limit: Int)
  /// They started more than `limit` threads.
  case threads(limit: Int)
  /// They used more than `limit` seconds of CPU time (`--cpu-time`, in a sandbox).
  case cpuTime(limit: Int)
  /// The program printed more than `limit` bytes in all.
  case output(limit: Int)
  /// It wrote a file larger than `limit` bytes (`--file-size`, in a sandbox).
  case fileSize(limit: Int)
  /// It exited with `status` before the end, with the runtime's message when it printed
  /// one ("Fatal error: Index out of range").
  case exit(status: Int32, runtimeMessage: String?)
  /// A signal ended it, with the runtime's message when it printed one.
  case signal(Int32, runtimeMessage: String?)
  /// It could not be started.
  case couldNotStart(String)

  /// The runtime's own message about the crash, when it printed one.
  public var runtimeMessage: String? {
    switch self {
    case .exit(_, let message), .signal(_, let message): return message
    default: return nil
    }
  }
}
