import ArgumentParser
import Foundation
import Hummingbird
import LessonKit
import Logging

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
    let limits = runs.limits
    let typesetter = Typesetter.locate()
    Thread.detachNewThread {
      runOnEveryChange(path) {
        var page: LivePage?
        return BackgroundRun(
          path: path, limits: limits, cellCache: runs.cellCache,
          hooks: .init(
            started: { lesson in
              page = LivePage(lesson: lesson)
              session.startRun(renderHTML(lesson, nil, typesetter: typesetter))
            },
            live: { item in
              if let message = page?.message(item) { session.broadcast(message) }
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
            }))
      }
    }

    let router = Router()
    router.get("/") { _, _ -> Response in
      Response(
        status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: session.pageHTML)))
    }
    router.get("/events") { _, _ -> Response in
      let messages = session.subscribe()
      return Response(
        status: .ok,
        headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
        body: ResponseBody { writer in
          for await message in messages {
            try await writer.write(ByteBuffer(string: "data: \(message)\n\n"))
          }
          try await writer.finish(nil)
        })
    }
    let address = "http://\(host):\(port)/"
    // The server's own log says only what goes wrong; the command says where it serves.
    var logger = Logger(label: "lessons serve")
    logger.logLevel = .warning
    let app = Application(
      router: router, configuration: .init(address: .hostname(host, port: port)),
      onServerRunning: { _ in
        FileHandle.standardOutput.write(
          Data("Serving \(path) at \(address); it runs again on every save. Ctrl-C to stop.\n".utf8)
        )
      }, logger: logger)
    let stopped = DispatchSemaphore(value: 0)
    let failure = ErrorBox()
    Task {
      do {
        try await app.run()
      } catch {
        failure.error = error
      }
      stopped.signal()
    }
    stopped.wait()
    if let error = failure.error {
      let inUse = "\(error)".contains("Address already in use")
      printError(
        "\(address): error: "
          + (inUse
            ? "port \(port) is in use by another program; choose another with --port"
            : "the server stopped: \(error)"))
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
  }
}

/// An error handed from the server's task to the command.
private final class ErrorBox: @unchecked Sendable {
  var error: Error?
}

/// The page as it stands and the open pages following it: the latest full page, and the
/// messages of the run in progress, replayed to a page that connects mid-run.
final class LiveSession: @unchecked Sendable {
  private let lock = NSLock()
  private var page = "<!DOCTYPE html><html><body><main>\n<p>Compiling…</p></main></body></html>"
  private var history: [String] = []
  private var followers: [UUID: AsyncStream<String>.Continuation] = [:]

  /// The page to serve now.
  var pageHTML: String { lock.withLock { page } }

  /// A run starts: the page becomes the lesson's new text without outputs.
  func startRun(_ pending: HTMLPage) {
    let message = LivePage.pageMessage(pending)
    lock.withLock {
      page = LivePage.servedHTML(pending)
      history = []
    }
    broadcast(message)
  }

  /// The run is over: the page becomes the finished one.
  func finishRun(_ finished: HTMLPage, exercises: [ExerciseStatus]) {
    let message = LivePage.pageMessage(finished, exercises: exercises)
    lock.withLock { page = LivePage.servedHTML(finished, exercises: exercises) }
    broadcast(message)
  }

  /// Sends `message` to every page, and keeps it for pages that connect later in the run.
  func broadcast(_ message: String) {
    let targets = lock.withLock {
      history.append(message)
      return Array(followers.values)
    }
    for follower in targets { follower.yield(message) }
  }

  /// The messages for a newly opened page: the current run's so far, then what comes.
  func subscribe() -> AsyncStream<String> {
    let id = UUID()
    let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .unbounded)
    continuation.onTermination = { [weak self] _ in
      self?.lock.withLock { _ = self?.followers.removeValue(forKey: id) }
    }
    lock.withLock {
      for message in history { continuation.yield(message) }
      followers[id] = continuation
    }
    return stream
  }
}
