import Foundation

/// How the runner's own work grows with a lesson's size: `run`, `run --write`, `export --html`
/// and `grade` on generated lessons of 10 to 10,000 cells, and of 10 to 10,000 formulas in
/// one cell's prose. Whole processes, with the program already compiled (warm), so the
/// figures are the runner's: parsing, planning, splitting outputs, writing back, rendering
/// and typesetting. The compile of each size (cold, `--no-cache`) is shown apart, because
/// it is the Swift compiler's: its type checker is superlinear in the declarations of one
/// scope, and every cell's declarations share the program's top level; and beside it, a run
/// after a prose edit near the top, which moves every cell but finds the program compiled.
///
/// Linear growth shows as a flat last column: the microseconds each added cell or formula
/// costs between one size and the next.
func benchmarkScaling(sizes: [Int] = [10, 100, 1_000, 10_000]) -> [MarkdownTable] {
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("lessons").path
  // A fixed folder: the lessons' paths are in their programs, so a second run of the
  // benchmark finds them in the build cache instead of compiling 10,000 cells again.
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-bench-scaling")
  defer { try? FileManager.default.removeItem(at: folder) }
  try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

  /// Median seconds of `runs` processes of `lessons arguments`, or `nil` if one failed. The
  /// lesson is written afresh before each (`--write` changes it).
  func seconds(_ arguments: [String], runs: Int, lesson: (path: String, text: String)) -> Double? {
    var timings: [Double] = []
    for _ in 0..<runs {
      try? lesson.text.write(toFile: lesson.path, atomically: true, encoding: .utf8)
      var failed = false
      let elapsed = ContinuousClock().measure {
        if case .failure = runProcess(executable, arguments) { failed = true }
      }
      if failed { return nil }
      timings.append(elapsed.seconds)
    }
    return median(timings)
  }

  func table(
    _ unit: String, _ lesson: (Int) -> String, showCompile: Bool
  ) -> MarkdownTable {
    var table = MarkdownTable(
      "\(unit)s", "compile s", "after a prose edit s", "run s", "run --write s",
      "export --html s", "grade s", "µs per added \(unit) (run · write · export · grade)")
    var previous: (size: Int, figures: [Double?])?
    for size in sizes {
      let file = (
        path: folder.appendingPathComponent("\(unit)-\(size).md").path, text: lesson(size)
      )
      let path = file.path
      let runs = size >= 10_000 ? 1 : 3
      // The compiler's cost, once per size (swiftc's type checker is superlinear in the
      // declarations of one scope).
      let compile =
        showCompile ? seconds(["run", path, "--no-cache"], runs: 1, lesson: file) : nil
      _ = seconds(["run", path], runs: 1, lesson: file)  // cached program, warm file caches
      // A prose edit near the top moves every cell: the program keeps its text (its lines
      // are numbered per cell), so the run finds it compiled.
      let edited = (
        path: path,
        text: file.text.replacingOccurrences(
          of: "\n\n", with: "\n\nA new paragraph,\nover two lines.\n\n", options: [],
          range: file.text.range(of: "\n\n"))
      )
      let afterEdit =
        showCompile ? seconds(["run", path], runs: 1, lesson: edited) : nil
      let figures = [
        seconds(["run", path], runs: runs, lesson: file),
        seconds(["run", path, "--write"], runs: runs, lesson: file),
        seconds(["export", path, "--html", "-o", path + ".html"], runs: runs, lesson: file),
        seconds(["grade", path], runs: runs, lesson: file),
      ]
      let compileText: String = compile.map { fixed($0, 2) } ?? "—"
      let times: [String] = figures.map { $0.map { fixed($0, 2) } ?? "failed" }
      // The cost of each unit added since the previous size: flat when growth is linear.
      let marginal: String =
        previous.map { previous in
          zip(figures, previous.figures).map { now, before in
            guard let now, let before else { return "?" }
            return fixed((now - before) / Double(size - previous.size) * 1e6, 0)
          }.joined(separator: " · ")
        } ?? "—"
      table.add(
        ["\(size)", compileText, afterEdit.map { fixed($0, 2) } ?? "—"] + times + [marginal])
      previous = (size, figures)
    }
    return table
  }

  let cells = table(
    "cell",
    { count in
      "# Many cells\n\n"
        + (0..<count).map {
          "Cell \($0).\n\n```swift\nlet value\($0) = \($0)\nprint(value\($0))\n```\n"
        }.joined(separator: "\n")
    }, showCompile: true)
  let formulas = table(
    "formula",
    { count in
      "# Many formulas\n\n"
        + (0..<count).map {
          "Formula \($0): $W_{\($0)} = W_0 + \\frac{\\alpha}{r} B A$ and more prose.\n"
        }.joined(separator: "\n") + "\n```swift\nprint(\"one cell\")\n```\n"
    }, showCompile: false)
  return [cells, formulas]
}
