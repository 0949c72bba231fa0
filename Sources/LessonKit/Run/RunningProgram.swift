import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The process groups of the lesson programs that are running (several when `grade` runs
/// submissions in parallel), so that an interrupt of the runner (Ctrl-C) stops them too: in
/// groups of their own, they do not get the terminal's signals.
public enum RunningProgram {
  /// A fixed table that the signal handler can read without locking or allocating.
  private static let capacity = 256
  nonisolated(unsafe) private static let groups: UnsafeMutablePointer<pid_t> = {
    let table = UnsafeMutablePointer<pid_t>.allocate(capacity: capacity)
    table.initialize(repeating: 0, count: capacity)
    return table
  }()
  /// For each slot, the run folder's files and then the folder itself (at most
  /// `pathsPerSlot`), as C strings made before the program starts: the handler may only
  /// unlink and rmdir, not build paths.
  nonisolated(unsafe) private static let paths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> =
    {
      let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(
        capacity: capacity * pathsPerSlot)
      table.initialize(repeating: nil, count: capacity * pathsPerSlot)
      return table
    }()
  private static let pathsPerSlot = 6
  private static let lock = NSLock()

  /// Records a running program's group and its run folder's `files` and `folder`, to be
  /// removed if the runner is interrupted; returns its slot for `unregister`.
  static func register(_ group: pid_t, files: [String], folder: String) -> Int? {
    lock.withLock {
      guard let slot = (0..<capacity).first(where: { groups[$0] == 0 }) else { return nil }
      for (index, path) in (files + [folder]).prefix(pathsPerSlot).enumerated() {
        paths[slot * pathsPerSlot + index] = strdup(path)
      }
      groups[slot] = group
      return slot
    }
  }

  /// Forgets the program in `slot`.
  static func unregister(_ slot: Int?) {
    guard let slot else { return }
    lock.withLock {
      groups[slot] = 0
      for index in 0..<pathsPerSlot {
        free(paths[slot * pathsPerSlot + index])
        paths[slot * pathsPerSlot + index] = nil
      }
    }
  }

  /// Makes SIGINT and SIGTERM stop every running lesson program before the runner exits.
  public static func forwardInterrupts() {
    _ = groups
    _ = paths
    // A parent may start the runner with these signals blocked (test harnesses do), and
    // the mask is inherited: unblock them, or Ctrl-C would never reach the handler.
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    sigaddset(&unblocked, SIGINT)
    sigaddset(&unblocked, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &unblocked, nil)
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber) { received in
        for slot in 0..<RunningProgram.capacity where RunningProgram.groups[slot] > 0 {
          kill(-RunningProgram.groups[slot], SIGKILL)
          // The run folder, files first: unlink, or rmdir for the folder; both are
          // async-signal-safe, as a recursive removal is not.
          for index in 0..<RunningProgram.pathsPerSlot {
            guard let path = RunningProgram.paths[slot * RunningProgram.pathsPerSlot + index]
            else { continue }
            if unlink(path) != 0 { rmdir(path) }
          }
        }
        _exit(128 + received)
      }
    }
  }
}
