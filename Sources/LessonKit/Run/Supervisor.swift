import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs a compiled lesson as one process in its own process group, keeps it within its
/// limits, and reports what it does as `RunEvent`s, from which its `RunResult` is folded.
///
/// Standard output and error go to files; at every cell boundary the program reports the
/// files' offsets on the event channel, so each byte is attributed to the cell that wrote
/// it (`OutputTail`), and whatever a crashing cell printed before it died is kept.
public struct Supervisor {
  /// The run's limits.
  public var limits: RunLimits
  /// The working directory of the program: the lesson's folder, so that a lesson opens
  /// `models/base-gpt.safetensors` relative to itself, as a notebook does.
  public var directory: String?
  /// Variables added to the program's environment (outside a sandbox): the cell cache's.
  public var environment: [String: String]
  /// The write hook's library, preloaded into the program (outside a sandbox) so that its
  /// cached blocks see every file it and its children write; `nil`: none.
  public var writeHook: String?

  /// A supervisor with these limits, folder and variables.
  public init(
    limits: RunLimits = RunLimits(), directory: String? = nil, environment: [String: String] = [:]
  ) {
    self.limits = limits
    self.directory = directory
    self.environment = environment
  }

  /// Runs `executable`, made from `program`, to its end or until a limit or `cancellation`
  /// stops it. `observer` sees every event as it happens, on this thread; the result is
  /// their fold, ending with `.stopped`.
  public func run(
    _ executable: Executable, program: Program, observer: RunObserver? = nil,
    cancellation: Cancellation? = nil
  ) throws -> RunResult {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("lessons-run-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let stdoutPath = folder + "/stdout"
    let stderrPath = folder + "/stderr"
    let key = UUID().uuidString

    Orphans.becomeReaper
    let start = Date()
    let started = try startProgram(
      executable.path, stdout: stdoutPath, stderr: stderrPath, key: key, directory: directory,
      environment: environment, writeHook: writeHook, limits: limits, runFolder: folder)
    let process = started.process
    let slot = RunningProgram.register(
      process,
      files: [stdoutPath, stderrPath]
        + ["seccomp.bpf", "lesson", "writes.log"].map {
          folder + "/" + $0
        }, folder: folder)
    defer { RunningProgram.unregister(slot) }

    var recorder = RunRecorder()
    let emit = { (event: RunEvent) in
      recorder.record(event)
      observer?(event)
    }
    var watch = LimitWatch(limits: limits, process: process, start: start)
    var stopped: StopCause?
    var waitStatus: Int32 = 0
    var events = EventPipe(descriptor: started.events, key: key)
    var lastProgress = Date.distantPast
    var tail = OutputTail(
      program: program, stdoutPath: stdoutPath, stderrPath: stderrPath,
      limit: limits.outputPerCell)
    while true {
      if waitpid(process, &waitStatus, WNOHANG) == process {
        // What the program started in the background (`system("... &")`) is in its process
        // group and would outlive it. (In a sandbox, the PID namespace ends with it anyway.)
        kill(-process, SIGKILL)
        break
      }
      // The output's size before the channel's lines: every byte counted then has its
      // cell's marker among the lines read now.
      let stdoutSize = fileSize(stdoutPath)
      events.drain()
      tail.advance(lines: events.lines, stdoutSize: stdoutSize).forEach(emit)
      if let observer, Date().timeIntervalSince(lastProgress) > 0.1 {
        lastProgress = Date()
        if let event = events.progress { observer(.progress(event)) }
      }
      stopped =
        cancellation?.isCancelled == true
        ? .cancelled
        : watch.check(outputBytes: stdoutSize + fileSize(stderrPath) + events.byteCount)
      if stopped != nil {
        kill(-process, SIGKILL)
        waitpid(process, &waitStatus, 0)
        break
      }
      usleep(5000)
    }
    Orphans.stop(leftBy: process, seen: watch.seen)
    events.finish()
    tail.finish(lines: events.lines).forEach(emit)
    let markers = ProgramMarkers(events.lines, program: program)
    let status: RunStatus
    if let stopped {
      status = .stopped(cell: recorder.cells.last?.cell, cause: stopped)
    } else if let cause = watch.cause(
      ofExit: waitStatus, finished: markers.finished, lastStderr: recorder.cells.last?.stderr)
    {
      status = .stopped(cell: recorder.cells.last?.cell, cause: cause)
    } else {
      status = .finished
    }
    emit(.stopped(status))
    return RunResult(
      status: status, cells: recorder.cells, seconds: Date().timeIntervalSince(start),
      markersTampered: markers.tampered, peakMemory: watch.peak.residentBytes)
  }
}

/// The limits of one run, checked as it goes, and what its end means.
private struct LimitWatch {
  let limits: RunLimits
  let process: pid_t
  let start: Date
  /// The most the process tree used at once, at the watch's looks.
  private(set) var peak = TreeUsage(residentBytes: 0, threads: 0)
  /// Every descendant of the program the watch's looks found.
  private(set) var seen = Set<ProcessStamp>()
  private var lastUsageCheck = Date.distantPast

  init(limits: RunLimits, process: pid_t, start: Date) {
    self.limits = limits
    self.process = process
    self.start = start
  }

  /// The limit the run is over now, if any: time, output, and (ten times a second) memory,
  /// threads and, in a sandbox, CPU time.
  mutating func check(outputBytes: Int) -> StopCause? {
    if let timeout = limits.timeout, Date().timeIntervalSince(start) > timeout {
      return .timeout(seconds: timeout)
    }
    if outputBytes > limits.totalOutput { return .output(limit: limits.totalOutput) }
    guard Date().timeIntervalSince(lastUsageCheck) > 0.1 else { return nil }
    lastUsageCheck = Date()
    let usage = treeUsage(of: process)
    seen.formUnion(usage.descendants)
    peak = TreeUsage(
      residentBytes: max(peak.residentBytes, usage.residentBytes),
      threads: max(peak.threads, usage.threads),
      cpuSeconds: max(peak.cpuSeconds, usage.cpuSeconds))
    if let memory = limits.memory, usage.residentBytes > memory { return .memory(limit: memory) }
    if usage.threads > limits.threads { return .threads(limit: limits.threads) }
    if let cpuTime = limits.cpuTime, limits.sandbox != nil, usage.cpuSeconds > Double(cpuTime) {
      return .cpuTime(limit: cpuTime)
    }
    return nil
  }

  /// Why a program that ended by itself stopped before the end, or `nil` when it ran to
  /// the end (`finished`: the finish marker came, untampered). `lastStderr` is the last
  /// cell's standard error, where the runtime's message is.
  func cause(ofExit waitStatus: Int32, finished: Bool, lastStderr: String?) -> StopCause? {
    let exitedNormally = waitStatus & 0x7f == 0
    let exitCode = (waitStatus >> 8) & 0xff
    if exitedNormally && exitCode == 0 && finished { return nil }
    // A sandbox reports a signal that ended the program as exit status 128 + its number.
    let signal =
      exitedNormally
      ? (limits.sandbox != nil && exitCode > 128 ? exitCode - 128 : nil) : waitStatus & 0x7f
    // The runtime's own message ("Fatal error: Index out of range"), when there is one.
    let message = lastStderr?.split(separator: "\n").last { $0.contains("Fatal error") }
      .map(String.init)
    if let cpuTime = limits.cpuTime, limits.sandbox != nil,
      signal == SIGXCPU || signal == SIGKILL && peak.cpuSeconds >= Double(cpuTime)
    {
      // The kernel's limit, between two of the watch's looks.
      return .cpuTime(limit: cpuTime)
    }
    if limits.sandbox != nil, signal == SIGXFSZ || message?.contains("File too large") == true {
      // SIGXFSZ, or EFBIG where the signal is ignored.
      return .fileSize(limit: limits.fileSize)
    }
    if let signal { return .signal(signal, runtimeMessage: message) }
    return .exit(status: exitCode, runtimeMessage: message)
  }
}

/// Whether the cell markers came from the generated program: in order, once each, each
/// with its cell's token; and whether the finish marker came, with its token.
private struct ProgramMarkers {
  var tampered = false
  var finished = false

  init(_ lines: [ChannelLine], program: Program) {
    var expected = 0
    for line in lines {
      switch line.message {
      case .cellStarted(let index, let token):
        if finished || index != expected || index >= program.markerTokens.count - 1
          || token != program.markerTokens[index]
        {
          tampered = true
        }
        expected += 1
      case .finished(let token):
        if finished || expected != program.cells.count || token != program.markerTokens.last {
          tampered = true
        }
        finished = true
      case .event:
        break
      }
    }
    finished = finished && !tampered
  }
}
