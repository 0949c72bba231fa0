import ArgumentParser
import Foundation
import LessonGrading
import LessonKit
import LessonSyntax
import LessonsCLI

/// `lessons check [LESSON]`: grades a lesson of the learner's workbook against the course's
/// key, as a teacher would, and records the learner's progress.
struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Grade your lesson in this workbook against the course's key; record progress.",
    discussion: """
      Without LESSON, the lesson of the next exercise to do. Your exercise cells run with the \
      course's own cells and checks, in the grader's sandbox where this machine has one. \
      Exit status: 0 every exercise of the lesson solved, 1 some not yet, 2 could not check.
      """)

  @Argument(help: "Your lesson (default: the one with the next exercise to do).")
  var lesson: String?
  @Option(parsing: .unconditional, help: "Seconds allowed for each run of the lesson.")
  var timeout: Double = 600
  @OptionGroup var memory: MemoryOption
  @OptionGroup var sandboxLimits: SandboxOptions

  func run() throws {
    do {
      try check()
    } catch let error as ExitCode {
      throw error
    } catch {
      printError("\(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }

  private func check() throws {
    var (folder, workbook) = try currentWorkbook(for: "check")
    let standing = WorkbookStanding(workbook: workbook, folder: folder)
    let name =
      lesson.map { URL(fileURLWithPath: $0).lastPathComponent } ?? standing.next?.lesson
      ?? standing.exercises.last?.lesson ?? ""
    let path = folder + "/" + name
    let keyPath = workbook.key(of: name)
    guard FileManager.default.fileExists(atPath: keyPath) else {
      throw LessonError(
        file: keyPath,
        "the course's key of \(name) is not there, where this workbook says the course is "
          + "(\(folder)/\(Workbook.fileName)); if the course moved, `lessons start "
          + "\(folder) --update --course NEW/Lessons`")
    }
    let key = try Lesson(contentsOf: keyPath)
    let submission = try Lesson(contentsOf: path, checkingReferences: false)
    let toolchain = try Toolchain.locate()
    var limits = RunLimits(timeout: timeout, memory: memory.memory.bytes)
    if (try? Sandbox.locateBubblewrap()) != nil {
      limits = try sandboxLimits.apply(to: limits).confined(to: key, toolchain: toolchain)
    } else {
      printError(
        "lessons: no sandbox on this machine (bubblewrap); your lesson runs unconfined, as "
          + "`lessons run` runs it")
    }
    RunningProgram.forwardInterrupts()
    printError("lessons: checking \(name) against the course's key…")
    let report = grade(
      submission: submission, key: key,
      compiler: Compiler(toolchain: toolchain, check: cachedBlockReview), limits: limits)
    print(feedback(report, file: name, key: key))
    workbook.record(
      lesson: name,
      report.exercises.map { exercise in
        let failed = exercise.checks.filter { !$0.passed }.count
        return (
          exercise.id, exercise.earned == exercise.points && exercise.passed,
          max(failed, exercise.error == nil ? 0 : 1)
        )
      })
    try workbook.save(in: folder)
    let after = WorkbookStanding(workbook: workbook, folder: folder)
    print(after.summary + "\n" + after.nextLine)
    if report.status == .invalid { throw ExitCode(LessonExit.couldNotRun.rawValue) }
    if report.exercises.contains(where: { $0.earned < $0.points }) {
      throw ExitCode(LessonExit.checkFailed.rawValue)
    }
  }

  /// The report at the learner's lines: `✓ id 2/2`, and each failed check as
  /// `FILE:LINE: ✗ message: detail`.
  private func feedback(_ report: GradeReport, file: String, key: Lesson) -> String {
    var text = "\(file): \(report.score)/\(report.maxScore) points\n"
    for exercise in report.exercises {
      let solved = exercise.earned == exercise.points && exercise.passed
      text += "  \(solved ? "✓" : "✗") \(exercise.id) \(exercise.earned)/\(exercise.points)"
      text += exercise.error.map { " — \($0)" } ?? ""
      text += "\n"
      for check in exercise.checks where !check.passed {
        let place = check.line.map { "\(file):\($0): " } ?? ""
        text += "      \(place)✗ \(check.message)" + (check.detail.map { ": \($0)" } ?? "") + "\n"
        if let hint = check.hint { text += "        hint: \(hint)\n" }
      }
      if !solved && !key.hints(for: exercise.id).isEmpty {
        text += "      stuck? lessons hint \(file) \(exercise.id)\n"
      }
    }
    for note in report.notes where !note.hasPrefix("graded with") { text += "  note: \(note)\n" }
    return text
  }
}
