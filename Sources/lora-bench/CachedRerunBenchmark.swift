import Foundation

/// The learner's loop on the course's fine-tuning lessons: edit the last cell and run the
/// lesson again. Without the cell cache (`--no-cache`) that re-runs every fine-tune; with
/// it, the program is compiled anew (its last cell changed) and the cached blocks before
/// that cell are restored. Whole `lessons run` commands, with a cache of their own. The
/// uncached run also gives its longest progress bar's seconds as the runner reports them
/// (lesson 03's fine-tune, without compiling, loading and sampling around it).
func benchmarkCachedRerun(lessons folder: String, names: [String]) -> MarkdownTable {
  var table = MarkdownTable(
    "lesson, last cell edited, then `lessons run`", "uncached s", "its longest progress bar s",
    "cached blocks s", "target")
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
      table.add(name, "missing", "", "", "")
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
    /// The run's wall seconds and its `--json` document.
    func run(_ arguments: [String]) -> (seconds: Double, json: String)? {
      edit()
      let start = ContinuousClock.now
      let result = runProcess(
        "/usr/bin/env",
        ["XDG_CACHE_HOME=\(cacheHome)", executable, "run", "--json", lesson.path] + arguments,
        withStandardError: false)
      switch result {
      case .failure(let error):
        print("\(name): \(error)")
        return nil
      case .success(let json):
        return ((ContinuousClock.now - start).seconds, json)
      }
    }
    let uncached = run(["--no-cache"])
    _ = run([])  // the first run with the cache computes and stores the blocks
    let cached = (0..<3).compactMap { _ in run([])?.seconds }
    table.add(
      name, uncached.map { fixed($0.seconds, 1) } ?? "failed",
      uncached.flatMap { longestProgressBar(inRunJSON: $0.json) }.map { fixed($0, 1) } ?? "",
      cached.count == 3 ? fixed(median(cached), 2) : "failed",
      name.hasPrefix("04") ? "≤ 2" : "")
  }
  return table
}

/// The seconds of the progress bar that ran longest in a `lessons run --json` document: the
/// last event of each bar that finished, as the lesson's program reported it. `nil` when no
/// bar finished.
func longestProgressBar(inRunJSON json: String) -> Double? {
  guard let document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else { return nil }
  var longest: Double?
  func walk(_ value: Any) {
    if let object = value as? [String: Any] {
      if object["kind"] as? String == "progress", let done = object["done"] as? Int,
        done == object["total"] as? Int, let seconds = object["seconds"] as? Double
      {
        longest = max(longest ?? seconds, seconds)
      }
      object.values.forEach(walk)
    } else if let array = value as? [Any] {
      array.forEach(walk)
    }
  }
  walk(document)
  return longest
}
