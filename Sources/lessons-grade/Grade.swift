import ArgumentParser
import Dispatch
import Foundation
import LessonGrading
import LessonKit
import LessonSyntax
import LessonsCLI

/// `lessons grade SUBMISSION.md [--key TEACHER.md]`, or a folder of submissions.
struct Grade: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Grade a submission, or every submission in a folder, against the teacher's key.",
    discussion: """
      With --key, the student's exercise cells run with the key's other cells and checks,
      whatever the submission contains. A folder is graded into gradebook.csv and
      gradebook.json, with one feedback file per student in feedback/.
      Each submission runs in a sandbox (Linux, bubblewrap) that sees only the compiled
      program, the libraries and the key's data files, read-only, with a private /tmp, no
      network, no other process, no new processes and an allowlisted environment.
      Exit status: 0 full marks (or a folder graded), 1 points lost, 2 could not grade.
      """)

  @Argument(help: "A submission, or a folder of submissions (*.md).") var submission: String
  @Option(help: "The teacher's lesson, whose checks and locked cells are used.") var key: String?
  @Flag(help: "Print the report as JSON.") var json = false
  @Option(parsing: .unconditional, help: "Seconds allowed for each run of a submission.")
  var timeout: Double = 120
  @OptionGroup var memory: MemoryOption
  @Option(help: "Submissions graded at once (default: the number of cores).")
  var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
  @Option(
    help: ArgumentHelp(
      "Grade only shard I of N of a folder: every Nth submission in name order, from the Ith.",
      discussion: "Its gradebook is gradebook.I-of-N.csv/.json; `lessons gradebook merge` "
        + "joins the shards' gradebooks when every shard has run.",
      valueName: "I/N"))
  var shard: Shard?
  @OptionGroup var sandboxLimits: SandboxOptions
  @Flag(help: "Run submissions without the sandbox: only for code you trust.")
  var noSandbox = false

  func validate() throws {
    guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    guard jobs > 0 else { throw ValidationError("--jobs must be at least 1") }
  }

  func run() throws {
    let keyLesson: Lesson?
    let toolchain: Toolchain
    do {
      keyLesson = try key.map { try Lesson(contentsOf: resolveLesson($0)) }
      toolchain = try Toolchain.locate()
      if !noSandbox { _ = try Sandbox.locateBubblewrap() }
    } catch {
      printError("\(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
    RunningProgram.forwardInterrupts()
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: submission, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      try gradeFolder(key: keyLesson, toolchain: toolchain)
      return
    }
    let report = gradeOne(submission, key: keyLesson, toolchain: toolchain)
    print(json ? encode(report) : gradeSummary(report), terminator: json ? "\n" : "")
    if report.status == .invalid { throw ExitCode(LessonExit.couldNotRun.rawValue) }
    if report.score < report.maxScore || report.status != .ok {
      throw ExitCode(LessonExit.checkFailed.rawValue)
    }
  }

  /// Grades one submission, while `concurrent` programs run at once.
  private func gradeOne(_ path: String, key: Lesson?, toolchain: Toolchain, concurrent: Int = 1)
    -> GradeReport
  {
    do {
      let lesson = try Lesson(contentsOf: path, checkingReferences: key == nil)
      var limits = RunLimits(timeout: timeout, memory: memory.memory.bytes)
      // Each program gets a share of the cores: two jobs of two OpenBLAS threads each on
      // two cores run about twice as slow as with one thread each.
      let cores = ProcessInfo.processInfo.activeProcessorCount
      if concurrent > 1 { limits.blasThreads = max(1, cores / concurrent) }
      if !noSandbox {
        // The data files the key's code names, from the key's folder; never the submission's.
        limits = try sandboxLimits.apply(to: limits).confined(
          to: key ?? lesson, toolchain: toolchain)
      }
      return LessonGrading.grade(
        submission: lesson, key: key,
        compiler: Compiler(toolchain: toolchain, check: cachedBlockReview), limits: limits)
    } catch {
      return GradeReport(
        lesson: path, status: .invalid, score: 0,
        maxScore: key.map(maxPoints) ?? 0, checksFrom: key == nil ? "submission" : "key",
        exercises: [], notes: ["not a gradable lesson: \(error)"])
    }
  }

  private func gradeFolder(key: Lesson?, toolchain: Toolchain) throws {
    let keyPath = key.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }
    let files = try FileManager.default.contentsOfDirectory(atPath: submission)
      .filter { $0.hasSuffix(".md") }.sorted()
      .map { submission + "/" + $0 }
      .filter { URL(fileURLWithPath: $0).standardizedFileURL.path != keyPath }
      .enumerated().filter { shard?.contains($0.offset) ?? true }.map(\.element)
    let grader = self
    let graded = concurrentMap(files, jobs: jobs) {
      grader.gradeOne(
        $0, key: key, toolchain: toolchain, concurrent: min(grader.jobs, files.count))
    }
    let feedback = submission + "/feedback"
    try FileManager.default.createDirectory(atPath: feedback, withIntermediateDirectories: true)
    for report in graded {
      let name = URL(fileURLWithPath: report.lesson).deletingPathExtension().lastPathComponent
      try feedbackMarkdown(report).write(
        toFile: feedback + "/\(name).feedback.md", atomically: true, encoding: .utf8)
    }
    let name = shard.map { "gradebook.\($0.index)-of-\($0.count)" } ?? "gradebook"
    try writeGradebook(graded, folder: submission, name: name)
    if json {
      print(gradebookJSON(graded), terminator: "")
    } else {
      graded.forEach { print(gradeSummary($0), terminator: "") }
      print("wrote \(submission)/\(name).csv, \(name).json and feedback/")
    }
  }
}

/// One shard of a class, `I/N`: the submissions at positions I-1, I-1+N, ... in name order.
struct Shard: ExpressibleByArgument {
  /// 1-based.
  var index: Int
  var count: Int

  init?(argument: String) {
    let parts = argument.split(separator: "/")
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
      (1...count).contains(index)
    else { return nil }
    (self.index, self.count) = (index, count)
  }

  /// Whether the submission at `position` (0-based, in name order) is in this shard.
  func contains(_ position: Int) -> Bool { position % count == index - 1 }
}

/// Writes `NAME.csv` and `NAME.json` into `folder`, each atomically.
func writeGradebook(_ reports: [GradeReport], folder: String, name: String) throws {
  try gradebookCSV(reports).write(
    toFile: folder + "/\(name).csv", atomically: true, encoding: .utf8)
  try gradebookJSON(reports).write(
    toFile: folder + "/\(name).json", atomically: true, encoding: .utf8)
}

/// The reports as a JSON array, one pretty-printed report per element.
func gradebookJSON(_ reports: [GradeReport]) -> String {
  "[\n" + reports.map(encode).joined(separator: ",\n") + "\n]\n"
}

/// The total points of a lesson's exercises.
func maxPoints(_ lesson: Lesson) -> Int {
  lesson.cells.reduce(0) { total, cell in
    if case .exercise(_, let points) = cell.role { return total + points }
    return total
  }
}

/// One row per submission: file, status, score, max, then each exercise's points.
func gradebookCSV(_ reports: [GradeReport]) -> String {
  let ids = reports.first(where: { !$0.exercises.isEmpty })?.exercises.map(\.id) ?? []
  var rows = [["submission", "status", "score", "max_score"] + ids]
  for report in reports {
    let earned = ids.map { id in
      report.exercises.first { $0.id == id }.map { "\($0.earned)" } ?? "0"
    }
    rows.append(
      [report.lesson, report.status.rawValue, "\(report.score)", "\(report.maxScore)"] + earned)
  }
  return rows.map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
}

private func csvField(_ text: String) -> String {
  text.contains(where: { ",\"\n".contains($0) })
    ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

private func encode(_ report: GradeReport) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self)
}
