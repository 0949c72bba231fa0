/// Limits on a lesson run.
///
/// The watcher enforces the timeout, the output, memory and thread limits everywhere, and
/// stops the program with a message that names the limit. CPU time and file size are
/// kernel limits (`setrlimit`), applied in the sandbox only.
public struct RunLimits: Sendable {
  /// Seconds before the program is stopped, or `nil` for no limit.
  public var timeout: Double?
  /// Bytes of output kept per cell and stream (64 KiB by default); the rest is counted and
  /// dropped with a notice.
  public var outputPerCell: Int
  /// Bytes of output, all streams together, past which the program is stopped.
  public var totalOutput: Int
  /// Bytes of resident memory, the program and every process it started together, past
  /// which it is stopped; `nil` for no limit. Measured ten times a second (on Linux, from
  /// `/proc`; elsewhere not at all), so that a lesson is stopped with a message that says
  /// why, before the system runs out and kills something.
  public var memory: Int?
  /// Threads, in all the program's processes together, past which it is stopped: a thread
  /// bomb would otherwise use up the machine's process ids. Measured with the memory.
  public var threads: Int
  /// Seconds of CPU time (all threads together) the program may use in a sandbox.
  public var cpuTime: Int?
  /// Bytes the largest file a sandboxed program writes may hold; its private `/tmp` holds
  /// at most this much too.
  public var fileSize: Int
  /// Where and how to confine the program, or `nil` to run it as the user.
  public var sandbox: Sandbox?
  /// OpenBLAS threads for the program, or `nil` for OpenBLAS's own choice (one per core).
  /// A grader running several programs at once gives each a share of the cores.
  public var blasThreads: Int?

  /// The default memory limit of the command line: 4 GiB, four times what the course's
  /// largest lesson uses.
  public static let defaultMemory = 4 << 30
  /// The default thread limit: the course's lessons use under 20.
  public static let defaultThreads = 256
  /// The default CPU time of a sandboxed run: ten minutes.
  public static let defaultCPUTime = 600
  /// The default largest file of a sandboxed run: 512 MiB.
  public static let defaultFileSize = 512 << 20

  /// Limits with the defaults of the command line.
  public init(
    timeout: Double? = nil, memory: Int? = RunLimits.defaultMemory, outputPerCell: Int = 1 << 16,
    totalOutput: Int = 256 << 20, threads: Int = RunLimits.defaultThreads,
    cpuTime: Int? = RunLimits.defaultCPUTime, fileSize: Int = RunLimits.defaultFileSize,
    sandbox: Sandbox? = nil, blasThreads: Int? = nil
  ) {
    self.timeout = timeout
    self.memory = memory
    self.outputPerCell = outputPerCell
    self.totalOutput = totalOutput
    self.threads = threads
    self.cpuTime = cpuTime
    self.fileSize = fileSize
    self.sandbox = sandbox
    self.blasThreads = blasThreads
  }
}
