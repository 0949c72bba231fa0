import Foundation

/// Cuts the output files at the offsets that cell-start lines reported.
func split(
  _ lines: [ChannelLine], program: Program, stdoutPath: String, stderrPath: String, limit: Int
) -> [CellOutput] {
  var starts: [(cell: Int, stdout: Int, stderr: Int)] = []
  var cellEvents: [Int: [(event: RuntimeEvent, at: Int)]] = [:]
  var endOffsets = (stdout: fileSize(stdoutPath), stderr: fileSize(stderrPath))
  for line in lines {
    switch line.message {
    case .cellStarted(let index, _) where index < program.cells.count:
      starts.append((index, line.stdout, line.stderr))
    case .cellStarted:
      break
    case .finished:
      endOffsets = (line.stdout, line.stderr)
    case .event(let index, let event):
      // A progress bar's updates replace each other: keep its latest state only.
      if case .progress(let label, _, _, _) = event,
        case .progress(label, _, _, _)? = cellEvents[index]?.last?.event
      {
        cellEvents[index]!.removeLast()
      }
      cellEvents[index, default: []].append((event, line.stdout))
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
