import Foundation

/// The `lessons` runner's own cost on a 20-cell lesson whose cells do almost nothing: cold
/// (compiling, `--no-cache`) and warm (the cached program), whole processes, medians.
func benchmarkRunner() -> MarkdownTable {
  var table = MarkdownTable("runner overhead, 20-cell lesson", "median seconds", "target")
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("lessons").path
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "runner-bench-\(UUID())")
  defer { try? FileManager.default.removeItem(at: folder) }
  let lesson = folder.appendingPathComponent("bench.md")
  do {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let cells = (0..<20).map {
      "Cell \($0).\n\n```swift\nlet value\($0) = \($0)\nprint(value\($0))\n```\n"
    }
    try ("# Twenty cells\n\n" + cells.joined(separator: "\n")).write(
      to: lesson, atomically: true, encoding: .utf8)
  } catch {
    print("runner benchmark skipped: \(error)")
    return table
  }
  func seconds(_ arguments: [String], runs: Int) -> Double? {
    let clock = ContinuousClock()
    var timings: [Double] = []
    for _ in 0..<runs {
      var failed = false
      let elapsed = clock.measure {
        if case .failure = runProcess(executable, ["run", lesson.path] + arguments) {
          failed = true
        }
      }
      if failed { return nil }
      timings.append(elapsed.seconds)
    }
    return median(timings)
  }
  _ = seconds([], runs: 1)  // fills the cache and the file system's caches
  table.add(
    "cold: compile and run (--no-cache)",
    seconds(["--no-cache"], runs: 3).map { fixed($0, 2) } ?? "failed", "≤ 2")
  table.add("warm: cached program", seconds([], runs: 5).map { fixed($0, 2) } ?? "failed", "≤ 0.3")
  return table
}
