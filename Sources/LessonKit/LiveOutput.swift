import Foundation

/// What a running lesson has just done, in the order it did it: the live view of a run,
/// for a terminal that shows outputs as they happen and for `lessons run --events`.
public enum LiveItem: Sendable, Equatable {
  /// The lesson cell at `position` started (`code` is the cell whose code runs there: the
  /// same cell, or an exercise's solution).
  case cellStarted(position: Int, code: Int)
  /// It printed `text` on standard output, or on standard error (`stderr`; given whole when
  /// the cell ends, without the runtime's stack trace).
  case text(position: Int, String, stderr: Bool)
  /// It showed a check, table, plot or progress bar.
  case event(position: Int, RuntimeEvent)
  /// It ran to its end, or the program stopped in it.
  case cellFinished(position: Int)
}

/// Follows a running program's output files and event channel, and turns what is new into
/// `LiveItem`s: text attributed to the cell that printed it, events in their place among
/// the text, and each cell's standard error when it ends.
///
/// A byte of standard output belongs to the last cell whose start marker reports an offset
/// at or before it. Sizes are read before the channel is drained, so every byte counted has
/// its cell's marker among the lines already read (the program flushes its output before
/// it sends a marker).
struct LiveTail {
  let program: Program
  let stdoutPath: String
  let stderrPath: String
  /// Bytes of each stream shown per cell at most, as the final report keeps.
  let limit: Int
  private var linesSeen = 0
  /// The running program cell, with where its output starts.
  private var cell: (index: Int, stdout: Int, stderr: Int)?
  private var stdoutShown = 0
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
  mutating func advance(lines: [ChannelLine], stdoutSize: Int) -> [LiveItem] {
    var items: [LiveItem] = []
    for line in lines[linesSeen...] {
      switch line.message {
      case .cellStarted(let index, _) where index < program.cells.count:
        items += text(upTo: line.stdout)
        items += finishCell(stderrEnd: line.stderr)
        cell = (index, line.stdout, line.stderr)
        stdoutShown = line.stdout
        pendingBytes = []
        items.append(
          .cellStarted(position: program.cells[index].position, code: program.cells[index].code))
      case .cellStarted:
        break
      case .finished:
        items += text(upTo: line.stdout)
      case .event(_, let event):
        items += text(upTo: line.stdout)
        if let cell { items.append(.event(position: program.cells[cell.index].position, event)) }
      }
    }
    linesSeen = lines.count
    items += text(upTo: stdoutSize)
    return items
  }

  /// The end of the run: the last cell's standard error, and its end.
  mutating func finish(lines: [ChannelLine]) -> [LiveItem] {
    let stdoutSize = fileSize(stdoutPath)
    var items = advance(lines: lines, stdoutSize: stdoutSize)
    if !pendingBytes.isEmpty, let cell {
      items.append(
        .text(
          position: program.cells[cell.index].position,
          String(decoding: pendingBytes, as: UTF8.self), stderr: false))
      pendingBytes = []
    }
    let stderrEnd = lines.last { if case .finished = $0.message { true } else { false } }?.stderr
    items += finishCell(stderrEnd: stderrEnd ?? fileSize(stderrPath))
    return items
  }

  /// The running cell's standard output from where it was shown up to `end`, within the
  /// cell's limit, up to the last whole UTF-8 character.
  private mutating func text(upTo end: Int) -> [LiveItem] {
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

  /// Ends the running cell: its standard error up to `stderrEnd`, then `cellFinished`.
  private mutating func finishCell(stderrEnd: Int) -> [LiveItem] {
    guard let cell else { return [] }
    self.cell = nil
    let position = program.cells[cell.index].position
    var items: [LiveItem] = []
    if !pendingBytes.isEmpty {
      items.append(
        .text(position: position, String(decoding: pendingBytes, as: UTF8.self), stderr: false))
      pendingBytes = []
    }
    if let bytes = readBytes(
      stderrPath, from: cell.stderr, to: min(stderrEnd, cell.stderr + limit)),
      !bytes.isEmpty
    {
      let text = withoutStackTrace(String(decoding: bytes, as: UTF8.self))
      if !text.isEmpty { items.append(.text(position: position, text, stderr: true)) }
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
