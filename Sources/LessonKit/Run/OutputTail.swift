import Foundation

/// Follows a running program's output files and event channel, and turns what is new into
/// `RunEvent`s: text attributed to the cell that printed it, events in their place among
/// the text, each cell's standard error when it ends, and what was cut at the per-cell
/// limit. The one place where output is attributed to cells.
///
/// A byte of standard output belongs to the last cell whose start marker reports an offset
/// at or before it. Sizes are read before the channel is drained, so every byte counted has
/// its cell's marker among the lines already read (the program flushes its output before
/// it sends a marker).
struct OutputTail {
  let program: Program
  let stdoutPath: String
  let stderrPath: String
  /// Bytes of each stream shown per cell at most, as the final report keeps.
  let limit: Int
  private var linesSeen = 0
  /// The running program cell, with where its output starts.
  private var cell: (index: Int, stdout: Int, stderr: Int)?
  private var stdoutShown = 0
  /// Where standard output stopped belonging to a cell: the finish marker's offset.
  private var stdoutEnd: Int?
  /// Bytes of an incomplete UTF-8 character at the end of what was read, kept for next time.
  private var pendingBytes: [UInt8] = []

  init(program: Program, stdoutPath: String, stderrPath: String, limit: Int) {
    self.program = program
    self.stdoutPath = stdoutPath
    self.stderrPath = stderrPath
    self.limit = limit
  }

  /// What happened since the last call: `lines` is every channel line so far, read after
  /// `stdoutSize` was measured.
  mutating func advance(lines: [ChannelLine], stdoutSize: Int) -> [RunEvent] {
    var items: [RunEvent] = []
    for line in lines[linesSeen...] {
      switch line.message {
      case .cellStarted(let index, _) where index < program.cells.count:
        items += text(upTo: line.stdout)
        items += finishCell(stdoutEnd: line.stdout, stderrEnd: line.stderr)
        cell = (index, line.stdout, line.stderr)
        stdoutShown = line.stdout
        pendingBytes = []
        items.append(
          .cellStarted(position: program.cells[index].position, code: program.cells[index].code))
      case .cellStarted:
        break
      case .finished:
        items += text(upTo: line.stdout)
        stdoutEnd = line.stdout
      case .event(_, var event):
        items += text(upTo: line.stdout)
        // A check's `#line` is in the program's numbering: the lesson's line is reported.
        if case .check(var check) = event {
          check.line = program.lessonLine(check.line)
          event = .check(check)
        }
        if let cell { items.append(.event(position: program.cells[cell.index].position, event)) }
      }
    }
    linesSeen = lines.count
    items += text(upTo: min(stdoutSize, stdoutEnd ?? stdoutSize))
    return items
  }

  /// The end of the run: the last cell's standard error, and its end.
  mutating func finish(lines: [ChannelLine]) -> [RunEvent] {
    let stdoutSize = fileSize(stdoutPath)
    var items = advance(lines: lines, stdoutSize: stdoutSize)
    let finished = lines.last { if case .finished = $0.message { true } else { false } }
    items += finishCell(
      stdoutEnd: finished?.stdout ?? stdoutSize, stderrEnd: finished?.stderr ?? fileSize(stderrPath)
    )
    return items
  }

  /// The running cell's standard output from where it was shown up to `end`, within the
  /// cell's limit, up to the last whole UTF-8 character.
  private mutating func text(upTo end: Int) -> [RunEvent] {
    guard let cell, end > stdoutShown else { return [] }
    let allowed = cell.stdout + limit
    let stop = min(end, allowed)
    guard stop > stdoutShown, let bytes = readBytes(stdoutPath, from: stdoutShown, to: stop)
    else {
      stdoutShown = max(stdoutShown, min(end, allowed))
      return []
    }
    stdoutShown = stop
    let all = pendingBytes + bytes
    let whole = completeUTF8Prefix(all)
    pendingBytes = Array(all[whole...])
    guard whole > 0 else { return [] }
    return [
      .text(
        position: program.cells[cell.index].position,
        String(decoding: all[..<whole], as: UTF8.self), stderr: false)
    ]
  }

  /// Ends the running cell, whose output ends at `stdoutEnd` and `stderrEnd`: the rest of
  /// its text, what was cut, its standard error, then `cellFinished`.
  private mutating func finishCell(stdoutEnd: Int, stderrEnd: Int) -> [RunEvent] {
    guard let cell else { return [] }
    self.cell = nil
    let position = program.cells[cell.index].position
    var items: [RunEvent] = []
    if !pendingBytes.isEmpty {
      items.append(
        .text(position: position, String(decoding: pendingBytes, as: UTF8.self), stderr: false))
      pendingBytes = []
    }
    if stdoutEnd - cell.stdout > limit {
      items.append(
        .truncated(position: position, stderr: false, omitted: stdoutEnd - cell.stdout - limit))
    }
    if let bytes = readBytes(
      stderrPath, from: cell.stderr, to: min(stderrEnd, cell.stderr + limit)),
      !bytes.isEmpty
    {
      // A runtime error's `FILE:LINE` is in the program's numbering.
      let text = program.rewritingLines(
        in: withoutStackTrace(String(decoding: bytes, as: UTF8.self)))
      if !text.isEmpty { items.append(.text(position: position, text, stderr: true)) }
    }
    if stderrEnd - cell.stderr > limit {
      items.append(
        .truncated(position: position, stderr: true, omitted: stderrEnd - cell.stderr - limit))
    }
    items.append(.cellFinished(position: position))
    return items
  }
}

/// Bytes `from..<to` of the file at `path`.
private func readBytes(_ path: String, from: Int, to: Int) -> [UInt8]? {
  guard to > from, let file = FileHandle(forReadingAtPath: path) else { return nil }
  defer { try? file.close() }
  try? file.seek(toOffset: UInt64(from))
  return (try? file.read(upToCount: to - from)).map { Array($0) }
}

/// How many of `bytes` make whole UTF-8 characters: all of them, unless the last few are
/// the start of a character whose other bytes have not arrived yet.
func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
  // Look back over at most three bytes for the lead byte of the last character.
  var index = bytes.count - 1
  while index >= 0 && index >= bytes.count - 4 {
    let byte = bytes[index]
    if byte & 0xC0 != 0x80 {
      let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
      return bytes.count - index >= length ? bytes.count : index
    }
    index -= 1
  }
  return bytes.count
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

func fileSize(_ path: String) -> Int {
  ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}
