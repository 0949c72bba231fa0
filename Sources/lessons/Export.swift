import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons export LESSON.md --html` (a page to share) or `--student` (the version to hand
/// out).
struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export a lesson as one self-contained HTML page, or as the students' version.",
    discussion: """
      --html runs the lesson and writes a page with its outputs, formulas typeset by KaTeX
      and code highlighted by highlight.js (both through Node.js, when installed). The page
      needs no network. A lesson that fails still gets its page, showing the error, and the
      exit status is the run's: 0 every check passed, 1 a check failed, 2 the lesson could
      not run to the end.
      --student removes solutions and hidden checks and records checksums of locked cells.
      """)

  @Argument(help: "The teacher's lesson: a path, or a name in Lessons/.") var lesson: String
  @Flag(help: "Run the lesson and write one self-contained HTML page.") var html = false
  @Flag(help: "Remove solutions and hidden checks, and record checksums of locked cells.")
  var student = false
  @Option(
    name: .shortAndLong,
    help: "The output file (default: beside the lesson, NAME.html or NAME.student.md).")
  var output: String?
  @Option(parsing: .unconditional, help: "With --html: stop the lesson after this many seconds.")
  var timeout: Double?
  @Flag(help: "With --html: ignore every cache; compile afresh and recompute cached blocks.")
  var noCache = false
  @OptionGroup var memory: MemoryOption

  func validate() throws {
    guard student != html else { throw ValidationError("choose one of --student and --html") }
    if let timeout, timeout <= 0 {
      throw ValidationError("--timeout must be a positive number of seconds")
    }
  }

  func run() throws {
    let path = resolveLesson(lesson)
    let exit = html ? exportPage(path) : exportStudentVersion(path)
    if exit != .success { throw ExitCode(exit.rawValue) }
  }

  private func exportPage(_ path: String) -> LessonExit {
    let destination = output ?? withoutExtension(path) + ".html"
    if let problem = unwritableDestination(destination) {
      printError(problem)
      return .couldNotRun
    }
    let console = Console(showsBar: isatty(2) == 1)
    let pipeline = LessonPipeline(
      limits: RunLimits(timeout: timeout, memory: memory.memory.bytes),
      cellCache: noCache ? nil : .user, check: cachedBlockCheck)
    let outcome = pipeline.execute(lessonAt: path) { event in
      if case .progress(let bar) = event { console.showBar(bar) }
    }
    console.clearBar()
    guard let parsed = outcome.lesson else {
      printError(outcome.failure ?? "\(path): error: the lesson did not run")
      return .couldNotRun
    }
    if case .didNotCompile(_, let error) = outcome { printError(error.output) }
    let exit = outcome.exit
    let page = renderHTML(parsed, outcome, typesetter: Typesetter.locate())
    for note in page.notes { printError(note) }
    do {
      try page.html.write(toFile: destination, atomically: true, encoding: .utf8)
    } catch {
      printError(
        "\(destination): error: the page could not be written (\(error.localizedDescription))")
      return .couldNotRun
    }
    print(
      "wrote \(destination)"
        + (exit == .success ? "" : " (the lesson did not pass: exit \(exit.rawValue))"))
    return exit
  }

  private func exportStudentVersion(_ path: String) -> LessonExit {
    do {
      let parsed = try Lesson(contentsOf: path)
      let destination = output ?? withoutExtension(path) + ".student.md"
      if let problem = unwritableDestination(destination) {
        printError(problem)
        return .couldNotRun
      }
      try studentVersion(of: parsed).write(toFile: destination, atomically: true, encoding: .utf8)
      print("wrote \(destination)")
      return .success
    } catch {
      printError("\(error)")
      return .couldNotRun
    }
  }
}

/// `Lessons/02.md` → `Lessons/02`.
private func withoutExtension(_ path: String) -> String {
  path.hasSuffix(".md") ? String(path.dropLast(3)) : path
}
