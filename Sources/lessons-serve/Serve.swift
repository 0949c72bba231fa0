import ArgumentParser
import Foundation
import LessonKit
import LessonServer
import LessonsCLI

/// `lessons serve LESSON.md`: the lesson's page on localhost, updated live on every save.
struct Serve: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve a lesson's page on localhost and update it live as the lesson changes.",
    discussion: """
      The page is the one `export --html` writes, with a script that follows each run: on \
      every save of the lesson (or of a data file it reads) the lesson runs again, and each \
      cell's outputs appear in the open page as the cell makes them, with no reload. It ends \
      with where the exercises stand. The page's code cells are editors (CodeMirror, from \
      Debian's libjs-codemirror): Ctrl-Enter writes the cell into the file, atomically and \
      only over the version the page showed, and the lesson runs again. The address printed \
      carries a random token; requests without it, or for another Host or from another \
      Origin, are refused. Ctrl-C stops the server and the lesson program.
      """)

  @Argument(help: "The lesson: a path, or a name in Lessons/.") var lesson: String
  @Option(help: "The address to listen on; 127.0.0.1 keeps the page on this machine.")
  var host = "127.0.0.1"
  @Option(help: "The port to listen on.") var port = 8080
  @OptionGroup var runs: RunOnChangeOptions

  func validate() throws {
    guard (1...65535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
  }

  func run() throws {
    let path = resolveLesson(lesson)
    RunningProgram.forwardInterrupts()
    let session = LiveSession()
    let pipeline = runs.pipeline
    let typesetter = Typesetter.locate()
    Thread.detachNewThread {
      runOnEveryChange(path) {
        var page: LivePage?
        return BackgroundRun(
          path: path, pipeline: pipeline,
          observer: { event in
            if case .started(let lesson) = event {
              page = LivePage(lesson: lesson)
              session.startRun(
                renderHTML(lesson, nil, typesetter: typesetter),
                editing: LivePage.Editing(lesson: lesson))
            } else if let message = page?.message(event) {
              session.broadcast(message)
            }
          },
          finished: { outcome in
            guard let lesson = outcome.lesson else {
              session.finishRun(
                LivePage.errorPage(outcome.failure ?? "the lesson did not run"), exercises: [])
              return
            }
            var exercises: [ExerciseStatus] = []
            if case .ran(_, let result) = outcome {
              exercises = ExerciseStatus.of(lesson, result)
              // In a workbook, a run from the page counts towards progress too.
              if let standing = recordInWorkbook(lesson, result) {
                FileHandle.standardOutput.write(Data(standing.utf8))
              }
            }
            session.finishRun(
              renderHTML(lesson, outcome, typesetter: typesetter), exercises: exercises,
              editing: LivePage.Editing(lesson: lesson))
          })
      }
    }

    let access = LiveAccess(host: host, port: port)
    let named = host.contains(":") ? "[\(host)]" : host
    let address = "http://\(named):\(port)/"
    if !["127.0.0.1", "localhost", "::1"].contains(host) {
      printError(
        "lessons serve: warning: listening on \(host), not on this machine alone: anyone who "
          + "reaches it with the token can edit the lesson and run code here")
    }
    do {
      try LiveServer(
        session: session, host: host, port: port, access: access, lessonPath: path
      ).serve {
        FileHandle.standardOutput.write(
          Data(
            ("Serving \(path) at \(address)?token=\(access.token)\n"
              + "Edit a cell in the page and press Ctrl-Enter, or save the file: it runs again. "
              + "Ctrl-C to stop.\n").utf8))
      }
    } catch LiveServerError.portInUse(let port) {
      printError(
        "\(address): error: port \(port) is in use by another program; choose another with --port")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    } catch {
      printError("\(address): error: the server stopped: \(error)")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }
}
