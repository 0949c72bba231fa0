import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs a compiled lesson as one process in its own process group and splits what it
/// printed into cells.
///
/// Standard output and error go to files; at every cell boundary the program reports the
/// files' offsets on the event channel, so each byte is attributed to the cell that wrote
/// it, and whatever a crashing cell printed before it died is kept.
///
/// - Parameter onProgress: called from the polling loop, about ten times a second, with the
///   latest progress event while one is running (for a live bar on a terminal).
/// - Parameter onLive: called from the polling loop with what the program just did, in
///   order (cells starting and ending, text, events), for outputs shown as they happen.
/// - Parameter isCancelled: asked at every poll; once it says yes, the program is stopped
///   (`lessons watch`, when the lesson changes under a run).
/// - Parameter directory: the working directory of the program: the lesson's folder, so
///   that a lesson opens `models/base-gpt.safetensors` relative to itself, as a notebook
///   does.
/// - Parameter environment: variables added to the program's environment (outside a
///   sandbox): the cell cache's.
public func run(
  _ executable: Executable, program: Program, limits: RunLimits = RunLimits(),
  directory: String? = nil, environment: [String: String] = [:],
  onProgress: ((RuntimeEvent) -> Void)? = nil,
  onLive: ((LiveItem) -> Void)? = nil, isCancelled: (() -> Bool)? = nil
) throws -> RunResult {
  let folder = FileManager.default.temporaryDirectory
    .appendingPathComponent("lessons-run-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: folder) }
  let stdoutPath = folder + "/stdout"
  let stderrPath = folder + "/stderr"
  let key = UUID().uuidString

  let start = Date()
  let started = try startProgram(
    executable.path, stdout: stdoutPath, stderr: stderrPath, key: key, directory: directory,
    environment: environment, limits: limits, runFolder: folder)
  let process = started.process
  let slot = RunningProgram.register(
    process, files: [stdoutPath, stderrPath, folder + "/seccomp.bpf"], folder: folder)
  defer { RunningProgram.unregister(slot) }

  var stopped: StopReason?
  var peak = TreeUsage(residentBytes: 0, threads: 0)
  var waitStatus: Int32 = 0
  var events = EventPipe(descriptor: started.events, key: key)
  var lastPoll = Date.distantPast
  var lastUsageCheck = Date.distantPast
  var live = LiveTail(
    program: program, stdoutPath: stdoutPath, stderrPath: stderrPath, limit: limits.outputPerCell)
  while true {
    let finished = waitpid(process, &waitStatus, WNOHANG)
    if finished == process {
      // What the program started in the background (`system("... &")`) is in its process
      // group and would outlive it. (In a sandbox, the PID namespace ends with it anyway.)
      kill(-process, SIGKILL)
      break
    }
    // The output's size before the channel's lines: every byte counted then has its cell's
    // marker among the lines read now.
    let stdoutSize = onLive == nil ? 0 : fileSize(stdoutPath)
    events.drain()
    if let onLive {
      for item in live.advance(lines: events.lines, stdoutSize: stdoutSize) { onLive(item) }
    }
    if let onProgress, Date().timeIntervalSince(lastPoll) > 0.1 {
      lastPoll = Date()
      if let event = events.progress { onProgress(event) }
    }
    if isCancelled?() == true {
      stopped = .cancelled
    } else if let timeout = limits.timeout, Date().timeIntervalSince(start) > timeout {
      stopped = .timeout
    } else if fileSize(stdoutPath) + fileSize(stderrPath) + events.byteCount > limits.totalOutput {
      stopped = .output
    } else if Date().timeIntervalSince(lastUsageCheck) > 0.1 {
      lastUsageCheck = Date()
      let usage = treeUsage(of: process)
      peak = TreeUsage(
        residentBytes: max(peak.residentBytes, usage.residentBytes),
        threads: max(peak.threads, usage.threads),
        cpuSeconds: max(peak.cpuSeconds, usage.cpuSeconds))
      if let memory = limits.memory, usage.residentBytes > memory {
        stopped = .memory(memory)
      } else if usage.threads > limits.threads {
        stopped = .threads(limits.threads)
      } else if let cpuTime = limits.cpuTime, limits.sandbox != nil,
        usage.cpuSeconds > Double(cpuTime)
      {
        stopped = .cpuTime(cpuTime)
      }
    }
    if stopped != nil {
      kill(-process, SIGKILL)
      waitpid(process, &waitStatus, 0)
      break
    }
    usleep(5000)
  }
  events.finish()
  if let onLive {
    for item in live.finish(lines: events.lines) { onLive(item) }
  }
  let seconds = Date().timeIntervalSince(start)
  let cells = split(
    events.lines, program: program, stdoutPath: stdoutPath, stderrPath: stderrPath,
    limit: limits.outputPerCell)
  let lastCell = cells.last?.cell
  let markers = verifyMarkers(events.lines, program: program)
  // A sandbox reports a signal that ended the program as exit status 128 + its number.
  let signal =
    exitedNormally(waitStatus)
    ? (limits.sandbox != nil && exitCode(waitStatus) > 128 ? exitCode(waitStatus) - 128 : nil)
    : waitStatus & 0x7f
  // The runtime's own message ("Fatal error: Index out of range"), when there is one.
  let message = cells.last?.stderr.split(separator: "\n").last { $0.contains("Fatal error") }
  let status: RunStatus
  switch stopped {
  case .cancelled:
    status = .crashed(cell: lastCell, reason: "stopped before the end, as asked")
  case .timeout:
    status = .timedOut(cell: lastCell, seconds: limits.timeout ?? seconds)
  case .memory(let memory):
    status = .crashed(
      cell: lastCell,
      reason:
        "stopped after using more than \(byteCount(memory)) of memory (the --memory limit; "
        + "raise it, or use smaller tensors or batches)")
  case .threads(let threads):
    status = .crashed(
      cell: lastCell, reason: "stopped after starting more than \(threads) threads")
  case .cpuTime(let cpuTime):
    status = .crashed(cell: lastCell, reason: cpuTimeMessage(cpuTime))
  case .output:
    status = .crashed(
      cell: lastCell, reason: "stopped after printing more than \(limits.totalOutput >> 20) MB")
  case nil:
    if exitedNormally(waitStatus), exitCode(waitStatus) == 0, markers.finished {
      status = .finished
    } else if let cpuTime = limits.cpuTime, limits.sandbox != nil,
      signal == SIGXCPU || signal == SIGKILL && peak.cpuSeconds >= Double(cpuTime)
    {
      // The kernel's limit, between two of the watcher's looks.
      status = .crashed(cell: lastCell, reason: cpuTimeMessage(cpuTime))
    } else if limits.sandbox != nil,
      signal == SIGXFSZ || message?.contains("File too large") == true
    {
      // SIGXFSZ, or EFBIG where the signal is ignored.
      status = .crashed(
        cell: lastCell,
        reason: "stopped for writing a file larger than \(byteCount(limits.fileSize)) "
          + "(the --file-size limit)")
    } else {
      status = .crashed(
        cell: lastCell,
        reason: crashReason(
          exitStatus: exitedNormally(waitStatus) && signal == nil ? exitCode(waitStatus) : nil,
          signal: signal, runtimeMessage: message.map(String.init)))
    }
  }
  return RunResult(
    status: status, cells: cells, seconds: seconds, markersTampered: markers.tampered,
    peakMemory: peak.residentBytes)
}

/// Why the watcher stopped a program.
private enum StopReason {
  case cancelled, timeout, output, memory(Int), threads(Int), cpuTime(Int)
}

/// Whether the cell markers came from the generated program: in order, once each, each
/// with its cell's token; and whether the finish marker came, with its token.
private func verifyMarkers(_ lines: [ChannelLine], program: Program) -> (
  tampered: Bool, finished: Bool
) {
  var expected = 0
  var tampered = false
  var finished = false
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
  return (tampered, finished && !tampered)
}

func fileSize(_ path: String) -> Int {
  ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

private func exitedNormally(_ status: Int32) -> Bool { status & 0x7f == 0 }
private func exitCode(_ status: Int32) -> Int32 { (status >> 8) & 0xff }

/// The words for a program stopped at its CPU-time limit.
private func cpuTimeMessage(_ seconds: Int) -> String {
  "stopped after using more than \(seconds) s of CPU time (the --cpu-time limit)"
}

/// Why a process ended, in words: its exit status, or the signal that ended it.
private func crashReason(exitStatus: Int32?, signal: Int32?, runtimeMessage: String?) -> String {
  let quoted = runtimeMessage.map { ": \($0)" } ?? ""
  guard let signal else {
    return "the program exited with status \(exitStatus ?? 0)\(quoted)"
  }
  switch signal {
  case SIGILL, SIGTRAP:
    // How Swift stops on a failed precondition, an overflow or fatalError(): the message
    // says which, and the signal's name would only puzzle a learner.
    return "a Swift runtime error"
      + (runtimeMessage.map { ": \($0)" }
        ?? " (a failed precondition, an overflow, an index out of range or a fatalError)")
  case SIGSEGV, SIGBUS: return "a bad memory access (signal \(signal))\(quoted)"
  case SIGFPE: return "an arithmetic error (signal \(signal))\(quoted)"
  case SIGABRT: return "the program aborted\(quoted)"
  case SIGKILL: return "the program was killed (signal 9), as the system does when memory runs out"
  default: return "the program was stopped by signal \(signal)\(quoted)"
  }
}
