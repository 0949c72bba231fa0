import ArgumentParser
import LessonKit

/// A memory size on the command line: `4G`, `512M`, `1.5G`, `800K`, a number of bytes, or
/// `none` for no limit.
public struct MemoryLimit: ExpressibleByArgument, CustomStringConvertible, Sendable {
  /// The limit in bytes, or `nil` for none.
  public var bytes: Int?

  /// A limit of `bytes`, or none.
  public init(bytes: Int?) { self.bytes = bytes }

  /// Reads `4G`, `512M`, `none`.
  public init?(argument: String) {
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

  /// `4G`, `512M`, `none`.
  public var description: String {
    guard let bytes else { return "none" }
    return bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : "\(bytes >> 20)M"
  }

  /// The default's description.
  public static var defaultValueDescription: String { "4G" }

  /// The value as an option's default would show it.
  public var defaultValueDescription: String { description }
}

/// `--memory`, for every command that runs lessons.
public struct MemoryOption: ParsableArguments, Sendable {
  /// The default.
  public init() {}

  /// `--memory`.
  @Option(
    help: ArgumentHelp(
      "Stop a lesson whose processes use more memory than this: 4G, 512M, or none.",
      valueName: "SIZE"))
  public var memory = MemoryLimit(bytes: RunLimits.defaultMemory)
}

/// The limits only a sandbox can apply, for `run --sandbox` and `grade`.
public struct SandboxOptions: ParsableArguments, Sendable {
  /// The defaults.
  public init() {}

  /// `--cpu-time`.
  @Option(
    help: ArgumentHelp(
      "In a sandbox: stop a lesson after this many seconds of CPU time, all threads together.",
      valueName: "SECONDS"))
  public var cpuTime = RunLimits.defaultCPUTime
  /// `--file-size`.
  @Option(
    help: ArgumentHelp(
      "In a sandbox: the largest file a lesson may write, and the size of its private /tmp.",
      valueName: "SIZE"))
  public var fileSize = MemoryLimit(bytes: RunLimits.defaultFileSize)

  /// Refuses a CPU time that is not positive, and a file size of none.
  public func validate() throws {
    guard cpuTime > 0 else { throw ValidationError("--cpu-time must be a positive number") }
    guard fileSize.bytes != nil else {
      throw ValidationError("--file-size needs a size, such as 512M; a sandbox always has one")
    }
  }

  /// `limits` with these.
  public func apply(to limits: RunLimits) -> RunLimits {
    var limits = limits
    limits.cpuTime = cpuTime
    limits.fileSize = fileSize.bytes ?? RunLimits.defaultFileSize
    return limits
  }
}
