internal import CProcessControl
import Foundation
import LessonEvents

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The private channel from a lesson program to the runner: one JSON object per line,
/// written to descriptor 3, a pipe that the runner drains as the program runs (so nothing
/// sent can be rewritten afterwards).
///
/// Rich outputs (tables, plots, checks, progress) and cell boundaries travel here, never on
/// standard output, so nothing a cell prints can pass for one of them. Each line carries the
/// run's key, which the runner writes into descriptor 4; the runtime reads it and closes
/// that descriptor before any cell runs. The key is never in the environment, so cell code
/// cannot find it in `/proc/self/environ` to forge a line. `LESSONS_CHANNEL` only says that
/// the descriptors are there; without it, a lesson program prints plain text.
enum Channel {
  static let eventDescriptor: Int32 = 3
  static let keyDescriptor: Int32 = 4

  private static let connection: (descriptor: Int32, key: String)? = {
    let environment = ProcessInfo.processInfo.environment
    // Run in the lesson's folder, so that it opens its files relative to itself.
    if let directory = environment["LESSONS_DIRECTORY"] {
      _ = FileManager.default.changeCurrentDirectoryPath(directory)
      unsetenv("LESSONS_DIRECTORY")
    }
    guard environment["LESSONS_CHANNEL"] != nil else { return nil }
    unsetenv("LESSONS_CHANNEL")
    var keyBytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
      let count = read(keyDescriptor, &buffer, buffer.count)
      if count <= 0 { break }
      keyBytes += buffer[..<count]
    }
    close(keyDescriptor)
    // Not inherited by anything the program starts.
    _ = fcntl(eventDescriptor, F_SETFD, FD_CLOEXEC)
    ParentWatch.start()
    let key = String(decoding: keyBytes, as: UTF8.self)
    return key.isEmpty ? nil : (eventDescriptor, key)
  }()

  /// Whether a runner is listening; without one, a lesson program prints plain text.
  static var isConnected: Bool { connection != nil }

  /// Opens the channel (and scrubs the environment) before any cell code runs.
  static func connect() {
    _ = connection
    _ = CellCacheStore.current
  }

  /// Sends `message`, unbuffered, so it survives a crash right after.
  static func send(_ message: ChannelMessage) {
    guard let (descriptor, key) = connection else { return }
    // Where standard output and error stand, so the runner can place this among the cell's
    // text.
    fflush(nil)
    let line = ChannelLine(
      key: key, stdout: Int(lseek(1, 0, SEEK_CUR)), stderr: Int(lseek(2, 0, SEEK_CUR)),
      message: message)
    guard var data = try? line.encoded() else { return }
    data.append(UInt8(ascii: "\n"))
    writeAll(data, to: descriptor)
  }

  /// Sends what the running cell showed.
  static func send(_ event: RuntimeEvent) {
    Recorder.current?.record(event)
    send(.event(cell: CurrentCell.index, event))
  }
}

/// Ends the lesson program, and every process it started, when the runner that started it
/// is gone (killed with SIGKILL, say), so that nothing keeps spinning or writing with no one
/// to read it. A thread checks the parent five times a second: a dead parent shows as a new
/// one. The program is its descendants' reaper (Linux's `PR_SET_CHILD_SUBREAPER`), so one
/// that left the program's group and session (`setsid`, a double fork) is still found among
/// them. (`PR_SET_PDEATHSIG` would follow the spawning thread rather than the process, and
/// does not exist on macOS.)
enum ParentWatch {
  static func start() {
    let parent = getppid()
    guard parent > 1 else { return }
    #if os(Linux)
      _ = lessons_become_child_subreaper()
    #endif
    Thread.detachNewThread {
      while true {
        usleep(200_000)
        if getppid() != parent {
          for descendant in descendants(of: getpid()) { kill(descendant, SIGKILL) }
          kill(0, SIGKILL)  // the program's own process group, which the runner created
          _exit(137)
        }
      }
    }
  }

  /// Every process below `root`, from `/proc` (none where there is no `/proc`, as in the
  /// sandbox, whose PID namespace ends them all anyway).
  static func descendants(of root: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var children: [pid_t: [pid_t]] = [:]
    for entry in entries {
      guard let pid = pid_t(entry),
        let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // After the parenthesised name: the state, then the parent.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 1, let parent = pid_t(fields[1]) {
        children[parent, default: []].append(pid)
      }
    }
    var found: [pid_t] = []
    var pending = children[root] ?? []
    while let next = pending.popLast(), found.count < 10_000 {
      found.append(next)
      pending += children[next] ?? []
    }
    return found
  }
}

/// Writes every byte of `bytes` to `descriptor`, unbuffered, retrying when interrupted; stops
/// quietly if the descriptor is gone.
func writeAll(_ bytes: Data, to descriptor: Int32) {
  bytes.withUnsafeBytes { buffer in
    guard var cursor = buffer.baseAddress else { return }
    var remaining = buffer.count
    while remaining > 0 {
      let written = write(descriptor, cursor, remaining)
      if written < 0 && errno == EINTR { continue }
      if written <= 0 { break }
      remaining -= written
      cursor += written
    }
  }
}
