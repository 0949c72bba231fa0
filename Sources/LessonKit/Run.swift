import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Limits on a lesson run.
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

  /// The default memory limit of the command line: 4 GiB, four times what the course's
  /// largest lesson uses.
  public static let defaultMemory = 4 << 30

  /// Limits with the defaults of the command line.
  public init(
    timeout: Double? = nil, memory: Int? = RunLimits.defaultMemory, outputPerCell: Int = 1 << 16,
    totalOutput: Int = 256 << 20
  ) {
    self.timeout = timeout
    self.memory = memory
    self.outputPerCell = outputPerCell
    self.totalOutput = totalOutput
  }
}

/// Runs a compiled lesson as one process in its own process group and splits what it
/// printed into cells.
///
/// Standard output and error go to files; at every cell boundary the program reports the
/// files' offsets on the event channel, so each byte is attributed to the cell that wrote
/// it, and whatever a crashing cell printed before it died is kept.
///
/// - Parameter onProgress: called from the polling loop, about ten times a second, with the
///   latest progress event while one is running (for a live bar on a terminal).
/// - Parameter directory: the working directory of the program: the lesson's folder, so
///   that a lesson opens `models/base-gpt.safetensors` relative to itself, as a notebook
///   does.
public func run(
  _ executable: Executable, program: Program, limits: RunLimits = RunLimits(),
  directory: String? = nil, onProgress: ((RuntimeEvent) -> Void)? = nil
) throws -> RunResult {
  let folder = FileManager.default.temporaryDirectory
    .appendingPathComponent("lessons-run-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: folder) }
  let stdoutPath = folder + "/stdout"
  let stderrPath = folder + "/stderr"
  let eventsPath = folder + "/events"
  _ = FileManager.default.createFile(atPath: eventsPath, contents: nil)
  let key = UUID().uuidString

  var environment = ProcessInfo.processInfo.environment
  environment["LESSONS_EVENTS"] = eventsPath
  environment["LESSONS_KEY"] = key
  // The runtime's "Fatal error: ..." line says what a learner needs; the full backtrace
  // with registers would bury it.
  environment["SWIFT_BACKTRACE"] = "enable=no"

  let start = Date()
  // The runtime moves into this folder before the first cell (posix_spawn's chdir action
  // is not portable).
  if let directory { environment["LESSONS_DIRECTORY"] = directory }
  let process = try spawn(
    executable.path, stdout: stdoutPath, stderr: stderrPath, environment: environment)
  let slot = RunningProgram.register(
    process, files: [stdoutPath, stderrPath, eventsPath], folder: folder)
  defer { RunningProgram.unregister(slot) }

  var timedOut = false
  var peakMemory = 0
  var waitStatus: Int32 = 0
  var progress = ProgressWatcher(path: eventsPath, key: key)
  var lastPoll = Date.distantPast
  var lastMemoryCheck = Date.distantPast
  while true {
    let finished = waitpid(process, &waitStatus, WNOHANG)
    if finished == process {
      // What the program started in the background (`system("... &")`) is in its process
      // group and would outlive it.
      kill(-process, SIGKILL)
      break
    }
    if let onProgress, Date().timeIntervalSince(lastPoll) > 0.1 {
      lastPoll = Date()
      if let event = progress.latest() { onProgress(event) }
    }
    if let timeout = limits.timeout, Date().timeIntervalSince(start) > timeout {
      timedOut = true
      kill(-process, SIGKILL)
      waitpid(process, &waitStatus, 0)
      break
    }
    if fileSize(stdoutPath) + fileSize(stderrPath) > limits.totalOutput {
      kill(-process, SIGKILL)
      waitpid(process, &waitStatus, 0)
      break
    }
    if let memory = limits.memory, Date().timeIntervalSince(lastMemoryCheck) > 0.1 {
      lastMemoryCheck = Date()
      peakMemory = max(peakMemory, residentBytes(ofTree: process))
      if peakMemory > memory {
        kill(-process, SIGKILL)
        waitpid(process, &waitStatus, 0)
        break
      }
    }
    usleep(5000)
  }
  let seconds = Date().timeIntervalSince(start)
  let events = readEvents(eventsPath, key: key)
  let cells = split(
    events: events, program: program, stdoutPath: stdoutPath, stderrPath: stderrPath,
    limit: limits.outputPerCell)
  let lastCell = cells.last?.cell
  let status: RunStatus
  if timedOut {
    status = .timedOut(cell: lastCell, seconds: limits.timeout ?? seconds)
  } else if exitedNormally(waitStatus), exitCode(waitStatus) == 0,
    events.contains(where: { $0["kind"] as? String == "finished" })
  {
    status = .finished
  } else if let memory = limits.memory, peakMemory > memory {
    status = .crashed(
      cell: lastCell,
      reason:
        "stopped after using more than \(byteCount(memory)) of memory (the --memory limit; "
        + "raise it, or use smaller tensors or batches)")
  } else if fileSize(stdoutPath) + fileSize(stderrPath) > limits.totalOutput {
    status = .crashed(
      cell: lastCell, reason: "stopped after printing more than \(limits.totalOutput >> 20) MB")
  } else {
    // Name the runtime's own message ("Fatal error: Index out of range") when there is one.
    let message = cells.last?.stderr.split(separator: "\n").last { $0.contains("Fatal error") }
    status = .crashed(
      cell: lastCell, reason: crashReason(waitStatus, runtimeMessage: message.map(String.init)))
  }
  let markers = events.filter { $0["kind"] as? String == "cell" }.compactMap { $0["cell"] as? Int }
  return RunResult(
    status: status, cells: cells, seconds: seconds,
    markersTampered: markers != Array(0..<markers.count))
}

/// Reads new lines of the event file as they arrive and keeps the latest progress event.
private struct ProgressWatcher {
  let path: String
  let key: String
  var offset: UInt64 = 0
  var latestEvent: RuntimeEvent?

  init(path: String, key: String) {
    self.path = path
    self.key = key
  }

  mutating func latest() -> RuntimeEvent? {
    guard let file = FileHandle(forReadingAtPath: path) else { return latestEvent }
    defer { try? file.close() }
    try? file.seek(toOffset: offset)
    guard let data = try? file.readToEnd(), let end = data.lastIndex(of: UInt8(ascii: "\n")) else {
      return latestEvent
    }
    offset += UInt64(end - data.startIndex + 1)
    for object in decodeEventLines(data[data.startIndex...end], key: key) {
      if object["kind"] as? String == "progress" {
        latestEvent = (object["final"] as? Bool == true) ? nil : decodeEvent(object)
      }
    }
    return latestEvent
  }
}

/// Starts `path` in a new process group, with its output streams redirected to files.
private func spawn(
  _ path: String, stdout: String, stderr: String, environment: [String: String]
) throws -> pid_t {
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  var attributes = posix_spawnattr_t()
  posix_spawnattr_init(&attributes)
  defer { posix_spawnattr_destroy(&attributes) }
  posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
  posix_spawnattr_setpgroup(&attributes, 0)

  let arguments = [path]
  let environmentLines = environment.map { "\($0.key)=\($0.value)" }
  var pid: pid_t = 0
  let status = withCStrings(arguments) { argv in
    withCStrings(environmentLines) { envp in
      posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    }
  }
  guard status == 0 else {
    throw LessonError(file: path, "could not be started (\(String(cString: strerror(status))))")
  }
  return pid
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T)
  -> T
{
  let pointers = strings.map { strdup($0) } + [nil]
  defer { pointers.forEach { free($0) } }
  return body(pointers)
}

private func fileSize(_ path: String) -> Int {
  ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

/// The events of this run: lines that carry its key, decoded.
private func readEvents(_ path: String, key: String) -> [[String: Any]] {
  guard let data = FileManager.default.contents(atPath: path) else { return [] }
  return decodeEventLines(data[...], key: key)
}

/// The JSON objects among `lines` that carry this run's key; anything else is ignored.
func decodeEventLines(_ lines: Data.SubSequence, key: String) -> [[String: Any]] {
  lines.split(separator: UInt8(ascii: "\n")).compactMap { line in
    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
      object["key"] as? String == key
    else { return nil }
    return object
  }
}

/// Cuts the output files at the offsets that cell-start events reported.
private func split(
  events: [[String: Any]], program: Program, stdoutPath: String, stderrPath: String, limit: Int
) -> [CellOutput] {
  var starts: [(cell: Int, stdout: Int, stderr: Int)] = []
  var cellEvents: [Int: [(event: RuntimeEvent, at: Int)]] = [:]
  var endOffsets = (stdout: fileSize(stdoutPath), stderr: fileSize(stderrPath))
  for event in events {
    let kind = event["kind"] as? String
    if kind == "cell", let index = event["cell"] as? Int, index < program.cells.count {
      starts.append((index, event["stdout"] as? Int ?? 0, event["stderr"] as? Int ?? 0))
    } else if kind == "finished" {
      endOffsets = (
        event["stdout"] as? Int ?? endOffsets.stdout, event["stderr"] as? Int ?? endOffsets.stderr
      )
    } else if let index = event["cell"] as? Int, let decoded = decodeEvent(event) {
      // A progress bar's updates replace each other: keep its latest state only.
      if case .progress(let label, _, _, _) = decoded,
        case .progress(label, _, _, _)? = cellEvents[index]?.last?.event
      {
        cellEvents[index]!.removeLast()
      }
      cellEvents[index, default: []].append((decoded, event["at"] as? Int ?? Int.max))
    }
  }
  let stdoutFile = FileHandle(forReadingAtPath: stdoutPath)
  let stderrFile = FileHandle(forReadingAtPath: stderrPath)
  defer {
    try? stdoutFile?.close()
    try? stderrFile?.close()
  }
  return starts.enumerated().map { position, start in
    let next = position + 1 < starts.count ? starts[position + 1] : nil
    let (out, outCut) = read(
      stdoutFile, from: start.stdout, to: next?.stdout ?? endOffsets.stdout, limit: limit)
    let (err, errCut) = read(
      stderrFile, from: start.stderr, to: next?.stderr ?? endOffsets.stderr, limit: limit)
    // Events number cells by their place in the program; report the lesson cell instead.
    return CellOutput(
      cell: program.cells[start.cell].position, codeCell: program.cells[start.cell].code,
      stdout: out, stderr: withoutStackTrace(err),
      truncated: outCut || errCut,
      events: (cellEvents[start.cell] ?? []).map(\.event),
      eventOffsets: (cellEvents[start.cell] ?? []).map { max(0, $0.at - start.stdout) })
  }
}

/// Standard error without the runtime's "Current stack trace:" listing, whose addresses
/// change from run to run and mean little to a learner; the "Fatal error" line stays.
func withoutStackTrace(_ text: String) -> String {
  guard text.contains("Current stack trace:") else { return text }
  var kept: [Substring] = []
  var inTrace = false
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    if line.hasPrefix("Current stack trace:") {
      inTrace = true
      continue
    }
    if inTrace, line.first?.isNumber == true { continue }
    inTrace = false
    kept.append(line)
  }
  return kept.joined(separator: "\n")
}

/// Bytes `from..<to` of a file, at most `limit` of them, as text.
private func read(_ file: FileHandle?, from: Int, to: Int, limit: Int) -> (String, Bool) {
  guard let file, to > from else { return ("", false) }
  let count = min(to - from, limit)
  try? file.seek(toOffset: UInt64(from))
  let data = (try? file.read(upToCount: count)) ?? Data()
  var text = String(decoding: data, as: UTF8.self)
  let truncated = to - from > limit
  if truncated {
    text += "\n… output truncated: \(to - from - limit) more bytes not shown\n"
  }
  return (text, truncated)
}

/// A check, table, plot or progress event from its JSON object; `nil` for a kind this
/// version does not know or a check without its fields. Missing optional fields get defaults.
func decodeEvent(_ event: [String: Any]) -> RuntimeEvent? {
  switch event["kind"] as? String {
  case "check":
    guard let passed = event["passed"] as? Bool, let message = event["message"] as? String else {
      return nil
    }
    return .check(
      Check(
        passed: passed, message: message, detail: event["detail"] as? String,
        line: event["line"] as? Int ?? 0))
  case "table":
    return .table(
      headers: event["headers"] as? [String] ?? [], rows: event["rows"] as? [[String]] ?? [])
  case "plot":
    let series = (event["series"] as? [[String: Any]] ?? []).map {
      Plot.Series(
        name: $0["name"] as? String ?? "", x: $0["x"] as? [Double] ?? [],
        y: $0["y"] as? [Double] ?? [])
    }
    return .plot(
      Plot(
        title: event["title"] as? String ?? "", xLabel: event["xLabel"] as? String ?? "",
        yLabel: event["yLabel"] as? String ?? "", series: series,
        yScale: (event["yScale"] as? String).flatMap { PlotScale(rawValue: $0) } ?? .linear))
  case "progress":
    return .progress(
      label: event["label"] as? String ?? "", done: event["done"] as? Int ?? 0,
      total: event["total"] as? Int ?? 0, seconds: event["seconds"] as? Double ?? 0)
  default:
    return nil
  }
}

private func exitedNormally(_ status: Int32) -> Bool { status & 0x7f == 0 }
private func exitCode(_ status: Int32) -> Int32 { (status >> 8) & 0xff }

/// Why a process ended, in words.
private func crashReason(_ status: Int32, runtimeMessage: String?) -> String {
  let quoted = runtimeMessage.map { ": \($0)" } ?? ""
  if exitedNormally(status) {
    return "the program exited with status \(exitCode(status))\(quoted)"
  }
  let signal = status & 0x7f
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
