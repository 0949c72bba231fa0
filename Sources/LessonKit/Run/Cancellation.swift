import Foundation

/// A run's stop button: once `cancel()` is called, the program does not start, or is
/// stopped at the supervisor's next look (`lessons watch`, when the lesson changes under
/// a run). Safe to use from any thread.
public final class Cancellation: @unchecked Sendable {
  private let lock = NSLock()
  private var cancelled = false

  /// A token not yet cancelled.
  public init() {}

  /// Asks the run to stop.
  public func cancel() { lock.withLock { cancelled = true } }

  /// Whether `cancel()` was called.
  public var isCancelled: Bool { lock.withLock { cancelled } }
}
