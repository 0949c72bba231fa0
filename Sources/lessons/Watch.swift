import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons watch LESSON.md`: runs the lesson, then again on every save, as `rustlings
/// watch` does, ending each run with where the exercises stand.
struct Watch: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a lesson again every time it, or a data file it reads, changes.",
    discussion: """
      A run still going when the lesson changes again is stopped, and the new version runs. \
      Each run ends with the exercises that pass and the one to do next. Ctrl-C stops \
      watching, and the lesson program with it.
      """)

  @Argument(help: "The lesson: a path, or a name in Lessons/.") var lesson: String
  @OptionGroup var runs: RunOnChangeOptions

  func run() throws {
    let path = resolveLesson(lesson)
    RunningProgram.forwardInterrupts()
    let terminal = isatty(1) == 1
    let console = Console(showsBar: isatty(2) == 1)
    let pipeline = runs.pipeline
    runOnEveryChange(
      path,
      beforeRun: {
        if terminal { FileHandle.standardOutput.write(Data("\u{1B}[2J\u{1B}[H".utf8)) }
      },
      whenIdle: { paths in
        let files = paths.count - 1
        console.print(
          "\nWatching \(path)"
            + (files > 0 ? " and \(files) data folder\(files == 1 ? "" : "s")" : "")
            + " for changes. Ctrl-C to stop.\n")
      },
      makeRun: {
        var printer: LiveTerminalPrinter?
        return BackgroundRun(
          path: path, pipeline: pipeline,
          observer: { event in
            switch event {
            case .compiling(let lesson): console.showStatus("compiling \(lesson.path)…")
            case .started(let lesson):
              console.clearBar()
              printer = LiveTerminalPrinter(
                lesson: lesson,
                renderer: TerminalRenderer(color: TerminalRenderer.shouldUseColor()),
                write: { console.print($0) })
            case .progress(let bar): console.showBar(bar)
            default: printer?.show(event)
            }
          },
          finished: { outcome in
            console.clearBar()
            guard case .ran(let lesson, let result) = outcome else {
              console.print((outcome.failure ?? "the lesson did not run") + "\n")
              return
            }
            printer?.finish(result)
            console.print(exerciseReport(lesson, result))
            // In a workbook, the run counts towards the learner's progress.
            if let standing = recordInWorkbook(lesson, result) { console.print(standing) }
          })
      })
  }
}

/// `Exercises: ✓ a  ✗ b` and the next one to do, as `rustlings watch` ends a run.
func exerciseReport(_ lesson: Lesson, _ result: RunResult) -> String {
  let exercises = ExerciseStatus.of(lesson, result)
  guard !exercises.isEmpty else { return "" }
  var text = "\nExercises: "
  text += exercises.map { ($0.state == .passed ? "✓ " : "✗ ") + $0.id }.joined(separator: "  ")
  if let next = exercises.first(where: { $0.state != .passed }) {
    let hints = lesson.hints(for: next.id).count
    text +=
      "\nNext: exercise '\(next.id)' at \(lesson.path):\(next.line)"
      + (hints > 0 ? " (stuck? lessons hint \(lesson.path) \(next.id))" : "")
  } else {
    text += "\nEvery exercise passes."
  }
  return text + "\n"
}
