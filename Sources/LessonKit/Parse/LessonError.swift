/// Why a lesson could not run to the end; each names the file and, where there is one, the
/// line.
public struct LessonError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The lesson file.
  public var file: String
  /// The 1-based line, when the problem has one.
  public var line: Int?
  /// What is wrong, in words for the person who wrote the lesson.
  public var message: String

  /// An error at `file:line`.
  public init(file: String, line: Int? = nil, _ message: String) {
    self.file = file
    self.line = line
    self.message = message
  }

  /// `FILE:LINE: error: MESSAGE`, as compilers write it.
  public var description: String {
    "\(file)\(line.map { ":\($0)" } ?? ""): error: \(message)"
  }
}

/// The exit codes of the `lessons` command.
public enum LessonExit: Int32, Sendable {
  /// Every cell ran and every check passed.
  case success = 0
  /// A check failed.
  case checkFailed = 1
  /// The lesson could not run to the end: bad input, a compile error, a crash, a timeout.
  case couldNotRun = 2
}
