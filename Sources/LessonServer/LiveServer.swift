import Foundation
import Hummingbird
import LessonKit
import Logging

/// The HTTP side of `lessons serve`, on Hummingbird: the page at `/`, the run's messages as
/// server-sent events at `/events`, a cell's edit at `POST /cell`, and the code editor's
/// files at `/assets/`. Every request passes `LiveAccess` first: the token, the `Host`, the
/// `Origin`.
public struct LiveServer {
  /// The session whose page and messages are served.
  public var session: LiveSession
  /// The address to listen on.
  public var host: String
  /// The port to listen on.
  public var port: Int
  /// Who may use it.
  public var access: LiveAccess
  /// The lesson the page edits.
  public var lessonPath: String

  /// A server for `session` on `host:port`, guarded by `access`, editing `lessonPath`.
  public init(session: LiveSession, host: String, port: Int, access: LiveAccess, lessonPath: String)
  {
    self.session = session
    self.host = host
    self.port = port
    self.access = access
    self.lessonPath = lessonPath
  }

  /// Serves until the process ends, calling `onRunning` once the server listens.
  ///
  /// - Throws: `LiveServerError` when it cannot listen or stops.
  public func serve(onRunning: @escaping @Sendable () -> Void) throws {
    let (session, lessonPath) = (session, lessonPath)
    let router = Router()
    router.add(middleware: AccessMiddleware(access: access))
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
    router.post("/cell") { request, _ -> Response in
      let body = try await request.body.collect(upTo: 4 << 20)
      guard
        let edit = try? JSONDecoder().decode(CellEdit.self, from: Data(String(buffer: body).utf8))
      else { return json(400, ["message": "the edit must be JSON: {line, source, version}"]) }
      switch edit.apply(toLessonAt: lessonPath) {
      case .written(let version): return json(200, ["version": version])
      case .conflict(let message, _): return json(409, ["message": message])
      case .refused(let message): return json(422, ["message": message])
      }
    }
    router.get("/assets/:name") { _, context -> Response in
      guard let name = context.parameters.get("name"), let file = EditorAssets.file(named: name),
        let contents = try? String(contentsOfFile: file.path, encoding: .utf8)
      else { return Response(status: .notFound) }
      return Response(
        status: .ok, headers: [.contentType: file.type, .cacheControl: "max-age=3600"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: contents)))
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

/// Refuses what `LiveAccess` refuses, and hands the page the cookie that carries the token.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
  let access: LiveAccess

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let token = request.uri.queryParameters.get("token")
    if let refusal = access.refusal(
      host: request.head.authority, origin: request.headers[.origin], token: token,
      cookie: request.headers[.cookie])
    {
      return Response(
        status: .init(code: refusal.status),
        headers: [.contentType: "text/plain; charset=utf-8"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: refusal.reason + "\n")))
    }
    var response = try await next(request, context)
    if token != nil { response.headers[.setCookie] = access.setCookie }
    return response
  }
}

/// A JSON response of string values.
private func json(_ status: Int, _ object: [String: String]) -> Response {
  let data = (try? JSONEncoder().encode(object)) ?? Data("{}".utf8)
  return Response(
    status: .init(code: status), headers: [.contentType: "application/json"],
    body: ResponseBody(byteBuffer: ByteBuffer(string: String(decoding: data, as: UTF8.self))))
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
