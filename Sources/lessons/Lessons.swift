import ArgumentParser
import Foundation
import LessonKit

/// The `lessons` command: run Markdown lessons as Swift programs.
@main
struct Lessons: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Markdown lessons on LoRA: their swift cells compile into one program.",
    subcommands: [
      Run.self, Watch.self, Serve.self, Export.self, Grade.self, Gradebook.self, List.self,
      Hint.self, Doctor.self,
    ])

  /// Runs the command, with bad arguments exiting 2 (could not run) as the exit-code
  /// contract says, rather than ArgumentParser's 64.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == .validationFailure {
        printError(fullMessage(for: error))
        Foundation.exit(LessonExit.couldNotRun.rawValue)
      }
      exit(withError: error)
    }
  }
}

/// A lesson path, trying `Lessons/NAME` when `NAME` itself does not exist.
func resolveLesson(_ name: String) -> String {
  let inLessons = "Lessons/" + name
  let exists = FileManager.default.fileExists(atPath:)
  let path = !exists(name) && exists(inLessons) ? inLessons : name
  // A symlinked lesson is the file it points to: it runs in that file's folder, where its
  // models/ and data/ are, and --write updates that file instead of replacing the link.
  let attributes = try? FileManager.default.attributesOfItem(atPath: path)
  if attributes?[.type] as? FileAttributeType == .typeSymbolicLink {
    return URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  }
  return path
}

/// Prints to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Why `path` cannot be written atomically (a temporary file beside it, then a rename), in
/// words, or `nil` when it can; checked before a lesson runs, so that a bad `-o` costs no run.
func unwritableDestination(_ path: String) -> String? {
  // The folder as the user spelled it ("missing", not an absolute path).
  // (NSString's deletingLastPathComponent traps on "." with Linux's Foundation.)
  let folder =
    path.lastIndex(of: "/").map { slash in
      slash == path.startIndex ? "/" : String(path[..<slash])
    } ?? "."
  var isDirectory: ObjCBool = false
  if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
  {
    return "\(path): error: is a folder; name a file to write"
  }
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
    return "\(path): error: cannot be written: the folder \(folder) does not exist"
  }
  guard isDirectory.boolValue else {
    return "\(path): error: cannot be written: \(folder) is not a folder"
  }
  guard access(folder, W_OK) == 0 else {
    return "\(path): error: cannot be written: the folder \(folder) is not writable"
  }
  return nil
}

/// A memory size on the command line: `4G`, `512M`, `1.5G`, `800K`, a number of bytes, or
/// `none` for no limit.
struct MemoryLimit: ExpressibleByArgument, CustomStringConvertible {
  /// The limit in bytes, or `nil` for none.
  var bytes: Int?

  init(bytes: Int?) { self.bytes = bytes }

  init?(argument: String) {
    let text = argument.trimmingCharacters(in: .whitespaces).uppercased()
    if text == "NONE" {
      bytes = nil
      return
    }
    let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
    var digits = text.hasSuffix("B") ? String(text.dropLast()) : text
    var scale = 1.0
    if let unit = digits.last, let factor = units[unit] {
      scale = factor
      digits.removeLast()
    }
    guard let value = Double(digits), value > 0, (value * scale) < Double(Int.max) else {
      return nil
    }
    bytes = Int(value * scale)
  }

  var description: String {
    guard let bytes else { return "none" }
    return bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : "\(bytes >> 20)M"
  }

  static var defaultValueDescription: String { "4G" }

  /// The value as an option's default would show it.
  var defaultValueDescription: String { description }
}

/// `--memory`, for every command that runs lessons.
struct MemoryOption: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Stop a lesson whose processes use more memory than this: 4G, 512M, or none.",
      valueName: "SIZE"))
  var memory = MemoryLimit(bytes: RunLimits.defaultMemory)
}

/// The limits only a sandbox can apply, for `run --sandbox` and `grade`.
struct SandboxOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "In a sandbox: stop a lesson after this many seconds of CPU time, all threads together.",
      valueName: "SECONDS"))
  var cpuTime = RunLimits.defaultCPUTime
  @Option(
    help: ArgumentHelp(
      "In a sandbox: the largest file a lesson may write, and the size of its private /tmp.",
      valueName: "SIZE"))
  var fileSize = MemoryLimit(bytes: RunLimits.defaultFileSize)

  func validate() throws {
    guard cpuTime > 0 else { throw ValidationError("--cpu-time must be a positive number") }
    guard fileSize.bytes != nil else {
      throw ValidationError("--file-size needs a size, such as 512M; a sandbox always has one")
    }
  }

  /// `limits` with these.
  func apply(to limits: RunLimits) -> RunLimits {
    var limits = limits
    limits.cpuTime = cpuTime
    limits.fileSize = fileSize.bytes ?? RunLimits.defaultFileSize
    return limits
  }
}
