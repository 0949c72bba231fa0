import Foundation

/// The learner's loop on the course's fine-tuning lessons: edit the last cell and run the
/// lesson again. Without the cell cache (`--no-cache`) that re-runs every fine-tune; with
/// it, the program is compiled anew (its last cell changed) and the cached blocks before
/// that cell are restored. Whole `lessons run` commands, with a cache of their own.
func benchmarkCachedRerun(lessons folder: String, names: [String]) -> MarkdownTable {
  var table = MarkdownTable(
    "lesson, last cell edited, then `lessons run`", "uncached s", "cached blocks s", "target")
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("lessons").path
  let work = FileManager.default.temporaryDirectory.appendingPathComponent("rerun-\(UUID())")
  defer { try? FileManager.default.removeItem(at: work) }
  let source = URL(fileURLWithPath: folder)
  do {
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    // The lesson's data, as the course has it.
    for data in ["models", "data"] {
      try FileManager.default.createSymbolicLink(
        at: work.appendingPathComponent(data),
        withDestinationURL: source.appendingPathComponent(data))
    }
  } catch {
    print("re-run benchmark skipped: \(error)")
    return table
  }
  let cacheHome = work.appendingPathComponent("cache-home").path
  for name in names {
    let lesson = work.appendingPathComponent(name)
    guard var text = try? String(contentsOf: source.appendingPathComponent(name), encoding: .utf8),
      let lastCell = text.range(of: "```swift\n", options: .backwards)
    else {
      table.add(name, "missing", "", "")
      continue
    }
    let cellStart = text.distance(from: text.startIndex, to: lastCell.upperBound)
    var edits = 0
    /// Adds a line to the lesson's last cell, as a learner's edit would.
    func edit() {
      edits += 1
      text.insert(
        contentsOf: "print(\"edit \(edits)\")\n",
        at: text.index(text.startIndex, offsetBy: cellStart))
      try? text.write(to: lesson, atomically: true, encoding: .utf8)
    }
    func seconds(_ arguments: [String]) -> Double? {
      edit()
      let start = ContinuousClock.now
      let result = runProcess(
        "/usr/bin/env", ["XDG_CACHE_HOME=\(cacheHome)", executable, "run", lesson.path] + arguments)
      if case .failure(let error) = result {
        print("\(name): \(error)")
        return nil
      }
      return (ContinuousClock.now - start).seconds
    }
    let uncached = seconds(["--no-cache"])
    _ = seconds([])  // the first run with the cache computes and stores the blocks
    let cached = (0..<3).compactMap { _ in seconds([]) }
    table.add(
      name, uncached.map { fixed($0, 1) } ?? "failed",
      cached.count == 3 ? fixed(median(cached), 2) : "failed",
      name.hasPrefix("04") ? "≤ 2" : "")
  }
  return table
}
