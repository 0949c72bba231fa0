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
      with where the exercises stand. Ctrl-C stops the server and the lesson program.
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
              session.startRun(renderHTML(lesson, nil, typesetter: typesetter))
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
            }
            session.finishRun(
              renderHTML(lesson, outcome, typesetter: typesetter), exercises: exercises)
          })
      }
    }

    let address = "http://\(host):\(port)/"
    do {
      try LiveServer(session: session, host: host, port: port).serve {
        FileHandle.standardOutput.write(
          Data("Serving \(path) at \(address); it runs again on every save. Ctrl-C to stop.\n".utf8)
        )
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
