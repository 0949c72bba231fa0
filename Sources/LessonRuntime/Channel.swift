import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The private channel from a lesson program to the runner: one JSON object per line, in a
/// file the runner names in `LESSONS_EVENTS`.
///
/// Rich outputs (tables, plots, checks, progress) and cell boundaries travel here, never on
/// standard output, so nothing a cell prints can pass for one of them. Each line carries the
/// run's key from `LESSONS_KEY`; both variables are removed from the environment before any
/// cell runs, so cell code cannot read the key to forge a line.
enum Channel {
  private static let connection: (descriptor: Int32, key: String)? = {
    let environment = ProcessInfo.processInfo.environment
    // Run in the lesson's folder, so that it opens its files relative to itself.
    if let directory = environment["LESSONS_DIRECTORY"] {
      _ = FileManager.default.changeCurrentDirectoryPath(directory)
      unsetenv("LESSONS_DIRECTORY")
    }
    guard let path = environment["LESSONS_EVENTS"], let key = environment["LESSONS_KEY"] else {
      return nil
    }
    unsetenv("LESSONS_EVENTS")
    unsetenv("LESSONS_KEY")
    ParentWatch.start()
    let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    return descriptor >= 0 ? (descriptor, key) : nil
  }()

  /// Whether a runner is listening; without one, a lesson program prints plain text.
  static var isConnected: Bool { connection != nil }

  /// Opens the channel (and scrubs the environment) before any cell code runs.
  static func connect() {
    _ = connection
  }

  /// Sends one event, unbuffered, so it survives a crash right after.
  static func send(_ kind: String, _ fields: [String: Any]) {
    guard let (descriptor, key) = connection else { return }
    var object = fields
    object["kind"] = kind
    object["key"] = key
    // Where standard output stands, so the runner can place this event among the cell's text.
    fflush(nil)
    object["at"] = lseek(1, 0, SEEK_CUR)
    guard
      let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
      var line = String(data: data, encoding: .utf8)
    else { return }
    line += "\n"
    line.withCString { pointer in
      var remaining = strlen(pointer)
      var cursor = UnsafeRawPointer(pointer)
      while remaining > 0 {
        let written = write(descriptor, cursor, remaining)
        if written <= 0 { break }
        remaining -= written
        cursor += written
      }
    }
  }
}

/// Ends the lesson program, and every process in its group, when the runner that started it
/// is gone (killed with SIGKILL, say), so that nothing keeps spinning with no one to read
/// it. A thread checks the parent five times a second: a dead parent shows as a new one.
/// (Linux's `PR_SET_PDEATHSIG` would need a C shim, follows the spawning thread rather than
/// the process, and does not exist on macOS.)
enum ParentWatch {
  static func start() {
    let parent = getppid()
    guard parent > 1 else { return }
    Thread.detachNewThread {
      while true {
        usleep(200_000)
        if getppid() != parent {
          kill(0, SIGKILL)  // the program's own process group, which the runner created
          _exit(137)
        }
      }
    }
  }
}
