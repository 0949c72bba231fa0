import Foundation
import Hummingbird
import LessonKit
import Logging

/// The HTTP side of `lessons serve`, on Hummingbird: the page at `/`, and the run's
/// messages as server-sent events at `/events`.
public struct LiveServer {
  /// The session whose page and messages are served.
  public var session: LiveSession
  /// The address to listen on.
  public var host: String
  /// The port to listen on.
  public var port: Int

  /// A server for `session` on `host:port`.
  public init(session: LiveSession, host: String, port: Int) {
    self.session = session
    self.host = host
    self.port = port
  }

  /// Serves until the process ends, calling `onRunning` once the server listens.
  ///
  /// - Throws: `LiveServerError` when it cannot listen or stops.
  public func serve(onRunning: @escaping @Sendable () -> Void) throws {
    let session = session
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
    // The server's own log says only what goes wrong; the command says where it serves.
    var logger = Logger(label: "lessons serve")
    logger.logLevel = .warning
    let app = Application(
      router: router, configuration: .init(address: .hostname(host, port: port)),
      onServerRunning: { _ in onRunning() }, logger: logger)
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
      throw "\(error)".contains("Address already in use")
        ? LiveServerError.portInUse(port) : LiveServerError.stopped("\(error)")
    }
  }
}

/// Why the live page could not be served.
public enum LiveServerError: Error, Equatable {
  /// Another program listens on the port.
  case portInUse(Int)
  /// The server stopped, with the error in words.
  case stopped(String)
}

/// An error handed from the server's task to the caller.
private final class ErrorBox: @unchecked Sendable {
  var error: Error?
}
