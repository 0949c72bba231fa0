import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `lessons serve` in a real browser: headless Chromium opens the page, the lesson is
/// edited, and the new output appears in the page's DOM without a reload.
@Suite("lessons serve in Chromium")
struct ServeTests {
  @Test(.enabled(if: headlessChromium != nil || pageToolsRequired))
  func anEditShowsUpInTheOpenPageWithoutAReload() throws {
    let browser = try #require(headlessChromium, "Chromium is not installed")
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let file = work.appendingPathComponent("lesson.md")
    func lesson(_ version: String) -> String {
      "# Live\n\n```swift\nprint(\"version \(version)\")\ncheck(true, \"it ran\")\n```\n"
    }
    try lesson("A").write(to: file, atomically: true, encoding: .utf8)

    let (server, _, address) = try startServer(in: work)
    defer {
      server.interrupt()
      server.waitUntilExit()
    }
    #expect(
      try waitUntil {
        (try? String(contentsOf: URL(string: address)!, encoding: .utf8))?
          .contains("version A") == true
      }, "the first run never reached the page")

    let page = try DevToolsPipe(browser: browser, url: address)
    defer { page.quit() }
    let text = "document.querySelector('main').innerText"
    #expect(try waitUntil { (try? page.evaluate(text) as? String)?.contains("version A") == true })
    _ = try page.evaluate("window.sameDocument = 42")

    try lesson("B").write(to: file, atomically: true, encoding: .utf8)
    #expect(
      try waitUntil { (try? page.evaluate(text) as? String)?.contains("version B") == true },
      "the edit never reached the open page: \(String(describing: try? page.evaluate(text)))")
    #expect(try page.evaluate("window.sameDocument") as? Int == 42, "the page was reloaded")
    let shown = try #require(try page.evaluate(text) as? String)
    #expect(!shown.contains("version A") && shown.contains("it ran"))
    #expect(
      try page.evaluate("document.querySelector('.exercise-status') === null") as? Bool == true)
  }

  /// A learner edits a cell in the page's editor, presses Ctrl-Enter, and sees the new
  /// output; the file holds the new code.
  @Test(.enabled(if: headlessChromium != nil || pageToolsRequired))
  func aCellEditedInThePageRunsAndIsSaved() throws {
    let browser = try #require(headlessChromium, "Chromium is not installed")
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("edit-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let file = work.appendingPathComponent("lesson.md")
    try """
    # Edit

    ```swift
    let greeting = "hello"
    ```

    ```swift
    print(greeting + " A")
    ```
    """.write(to: file, atomically: true, encoding: .utf8)
    let (server, _, address) = try startServer(in: work)
    defer {
      server.interrupt()
      server.waitUntilExit()
    }
    let page = try DevToolsPipe(browser: browser, url: address)
    defer { page.quit() }
    let text = "document.querySelector('main').innerText"
    let editors = "document.querySelectorAll('[data-editor]').length"
    #expect(
      try waitUntil {
        (try? page.evaluate(text) as? String)?.contains("hello A") == true
          && (try? page.evaluate(editors) as? Int) == 2
      }, "the page never showed its editors: \(String(describing: try? page.evaluate(text)))")
    if pageToolsRequired {
      #expect(try page.evaluate("typeof CodeMirror") as? String == "function", "no CodeMirror")
    }
    _ = try page.evaluate("window.sameDocument = 42")
    // Focus the second cell's editor, select its code, type over it, press Ctrl-Enter.
    _ = try page.evaluate(
      """
      (() => {
        const cell = document.querySelectorAll('[data-editor]')[1];
        const editor = cell.querySelector('.CodeMirror')?.CodeMirror;
        if (editor) { editor.focus(); editor.execCommand('selectAll'); }
        else { const area = cell.querySelector('textarea'); area.focus(); area.select(); }
      })()
      """)
    try page.command("Input.insertText", ["text": "print(greeting + \" B\")"])
    for type in ["rawKeyDown", "keyUp"] {
      try page.command(
        "Input.dispatchKeyEvent",
        [
          "type": type, "modifiers": 2, "key": "Enter", "code": "Enter",
          "windowsVirtualKeyCode": 13,
        ])
    }
    #expect(
      try waitUntil { (try? page.evaluate(text) as? String)?.contains("hello B") == true },
      "the edit's output never reached the page: \(String(describing: try? page.evaluate(text)))")
    #expect(try page.evaluate("window.sameDocument") as? Int == 42, "the page was reloaded")
    let saved = try String(contentsOf: file, encoding: .utf8)
    #expect(saved.contains("print(greeting + \" B\")") && !saved.contains("\" A\""), "\(saved)")
    #expect(saved.hasPrefix("# Edit\n\n```swift\nlet greeting"), "the rest of the file is kept")
  }

  /// Jupyter's guards, tried as a hostile page or a careless tab would: no token, a wrong
  /// one, a foreign Host (DNS rebinding), a foreign Origin (a cross-site request), a locked
  /// cell, an edit over a file that changed meanwhile.
  @Test func requestsWithoutTheTokenOrFromElsewhereAndUnsafeEditsAreRefused() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let file = work.appendingPathComponent("lesson.md")
    let original = """
      # Guarded

      ```swift
      let base = 1
      ```

      ```swift exercise id=x points=1
      let x = 0
      ```

      ```swift check for=x
      checkEqual(x, 1, "x is 1")
      ```

      """
    try original.write(to: file, atomically: true, encoding: .utf8)
    let (server, port, address) = try startServer(in: work)
    defer {
      server.interrupt()
      server.waitUntilExit()
    }
    let token = try #require(address.components(separatedBy: "token=").last)
    let host = "127.0.0.1:\(port)"
    func get(_ path: String, host: String? = nil, headers: String = "") throws -> HTTPReply {
      try rawHTTP(
        port: port, "GET \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\n\(headers)")
    }
    func post(_ edit: [String: Any], headers: String = "") throws -> HTTPReply {
      let body = String(decoding: try JSONSerialization.data(withJSONObject: edit), as: UTF8.self)
      return try rawHTTP(
        port: port,
        "POST /cell?token=\(token) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
          + "Content-Length: \(body.utf8.count)\r\n\(headers)", body: body)
    }
    #expect(try get("/").status == 401)
    #expect(try get("/?token=0123").status == 401)
    #expect(try get("/events").status == 401)
    #expect(try get("/?token=\(token)", host: "evil.example:\(port)").status == 403)
    let page = try get("/?token=\(token)")
    #expect(page.status == 200 && page.head.lowercased().contains("set-cookie: lessons_token_"))
    #expect(try get("/", headers: "Cookie: lessons_token_\(port)=\(token)\r\n").status == 200)
    #expect(try get("/assets/..%2F..%2Fetc%2Fpasswd?token=\(token)").status == 404)
    let version = CellEdit.version(of: original)
    let foreign = try post(
      ["line": 7, "source": "let x = 1", "version": version],
      headers: "Origin: http://evil.example\r\n")
    #expect(foreign.status == 403)
    let locked = try post(["line": 11, "source": "check(true, \"x is 1\")", "version": version])
    #expect(locked.status == 422 && locked.body.contains("locked"), "\(locked.body)")
    let stale = try post(["line": 7, "source": "let x = 1", "version": "not-this-one"])
    #expect(stale.status == 409 && stale.body.contains("changed since this page was made"))
    #expect(try String(contentsOf: file, encoding: .utf8) == original, "a refused edit wrote")
    let backups =
      (try? FileManager.default.contentsOfDirectory(
        atPath: work.appendingPathComponent(".lessons-backup").path)) ?? []
    #expect(backups.count == 1, "the refused edit's code is kept: \(backups)")
    let written = try post(
      ["line": 7, "source": "let x = 1  // solved", "version": version],
      headers: "Origin: http://\(host)\r\n")
    #expect(written.status == 200, "\(written.body)")
    #expect(try String(contentsOf: file, encoding: .utf8).contains("let x = 1  // solved"))
  }

  /// Starts `lessons serve LESSON` on a free port, returning the process, the port and the
  /// address it printed (with its token).
  private func startServer(in folder: URL, lesson: String = "lesson.md") throws -> (
    Process, Int, String
  ) {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<5 {
      let port = Int.random(in: 20_000..<60_000)
      let process = Process()
      process.executableURL = buildFolder.appendingPathComponent("lessons")
      process.arguments = ["serve", lesson, "--port", "\(port)"]
      process.currentDirectoryURL = folder
      let output = Pipe()
      process.standardOutput = output
      process.standardError = FileHandle.nullDevice
      try process.run()
      // The first line says where it serves, once it listens.
      var printed = Data()
      let listening = try waitUntil(seconds: 20) {
        guard process.isRunning else { return true }
        var descriptor = pollfd(
          fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) > 0 { printed += output.fileHandleForReading.availableData }
        return String(decoding: printed, as: UTF8.self).contains("\n")
      }
      let line = String(decoding: printed, as: UTF8.self).split(separator: "\n").first ?? ""
      if listening && process.isRunning, let start = line.range(of: "http://") {
        return (process, port, String(line[start.lowerBound...]))
      }
      if process.isRunning { process.interrupt() }
      process.waitUntilExit()
    }
    throw LessonError(file: "serve", "no free port to serve on")
  }
}

/// Polls `condition` every 200 ms for up to `seconds`; whether it came true.
private func waitUntil(seconds: Double = 90, _ condition: () throws -> Bool) throws -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(200_000)
  }
  return false
}

/// Headless Chromium on `PATH`.
private let headlessChromium: String? = {
  let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
  for name in ["chromium-headless-shell", "chromium"] {
    for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
      return "\(folder)/\(name)"
    }
  }
  return nil
}()

/// A headless Chromium driven through the DevTools protocol over `--remote-debugging-pipe`
/// (commands on its descriptor 3, replies on 4, each message ended by a NUL): no WebSocket
/// client is needed.
final class DevToolsPipe {
  private var pid: pid_t = 0
  private let commands: Int32
  private let replies: Int32
  private var nextID = 1
  private var pending: [UInt8] = []
  private var session: String?
  private var ended = false

  init(browser: String, url: String) throws {
    var toBrowser: [Int32] = [0, 0]
    var fromBrowser: [Int32] = [0, 0]
    guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else {
      throw LessonError(file: browser, "no pipes")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // The browser leads a process group of its own, so that `quit` ends its children too
    // (zygote, renderer, GPU and utility processes), not only the first process.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
    posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let arguments = [
      browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
      "--user-data-dir=" + FileManager.default.temporaryDirectory.path + "/chromium-\(UUID())",
      url,
    ]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let status = posix_spawn(&pid, browser, &actions, &attributes, &argv, environ)
    close(toBrowser[0])
    close(fromBrowser[1])
    commands = toBrowser[1]
    replies = fromBrowser[0]
    guard status == 0 else {
      pid = 0
      quit()
      throw LessonError(file: browser, "could not start: \(status)")
    }
    // The page's target, and a session on it; a browser that never offers one is ended
    // before the error goes up, since no caller holds it to quit.
    do {
      try attach(browser: browser)
    } catch {
      quit()
      throw error
    }
  }

  deinit { quit() }

  private func attach(browser: String) throws {
    let found = try waitUntil(seconds: 30) {
      let targets = try self.send("Target.getTargets", [:])["targetInfos"] as? [[String: Any]]
      guard let target = targets?.first(where: { $0["type"] as? String == "page" }),
        let id = target["targetId"] as? String
      else { return false }
      let attached = try self.send("Target.attachToTarget", ["targetId": id, "flatten": true])
      self.session = attached["sessionId"] as? String
      return self.session != nil
    }
    guard found else { throw LessonError(file: browser, "no page to attach to") }
  }

  /// The value of a JavaScript expression in the page.
  func evaluate(_ expression: String) throws -> Any? {
    let reply = try send(
      "Runtime.evaluate", ["expression": expression, "returnByValue": true], session: session)
    return (reply["result"] as? [String: Any])?["value"]
  }

  /// A DevTools command on the page (`Input.insertText`, `Input.dispatchKeyEvent`), and its
  /// result.
  @discardableResult
  func command(_ method: String, _ parameters: [String: Any]) throws -> [String: Any] {
    try send(method, parameters, session: session)
  }

  /// Sends a command and returns its result, skipping the events that come before it.
  private func send(_ method: String, _ parameters: [String: Any], session: String? = nil)
    throws -> [String: Any]
  {
    let id = nextID
    nextID += 1
    var message: [String: Any] = ["id": id, "method": method, "params": parameters]
    if let session { message["sessionId"] = session }
    var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message)) + [0]
    guard write(commands, &bytes, bytes.count) == bytes.count else {
      throw LessonError(file: "chromium", "the pipe is closed")
    }
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      if let end = pending.firstIndex(of: 0) {
        let text = Data(pending[..<end])
        pending.removeSubrange(...end)
        guard let reply = try JSONSerialization.jsonObject(with: text) as? [String: Any],
          reply["id"] as? Int == id
        else { continue }
        if let error = reply["error"] { throw LessonError(file: "chromium", "\(method): \(error)") }
        return reply["result"] as? [String: Any] ?? [:]
      }
      var descriptor = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
      guard poll(&descriptor, 1, 500) > 0 else { continue }
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      let count = read(replies, &buffer, buffer.count)
      guard count > 0 else { throw LessonError(file: "chromium", "the browser closed its pipe") }
      pending += buffer[..<count]
    }
    throw LessonError(file: "chromium", "\(method) had no reply in 20 s")
  }

  /// Ends the browser and every process of its group; calling it again does nothing.
  func quit() {
    guard !ended else { return }
    ended = true
    if pid > 0 {
      kill(-pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    }
    close(commands)
    close(replies)
  }
}

/// A reply read off the socket: its status, head and body.
struct HTTPReply {
  var status: Int
  var head: String
  var body: String
}

/// One HTTP/1.1 request written by hand to 127.0.0.1:`port` (so that `Host` and `Origin` are
/// whatever the test says), `head` its lines up to the blank one.
private func rawHTTP(port: Int, _ head: String, body: String = "") throws -> HTTPReply {
  let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard socket >= 0 else { throw LessonError(file: "http", "no socket") }
  defer { close(socket) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = in_port_t(UInt16(port).bigEndian)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  guard connected == 0 else { throw LessonError(file: "http", "cannot connect to \(port)") }
  let request = Array((head + "Connection: close\r\n\r\n" + body).utf8)
  _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
  var reply: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 1 << 16)
  let deadline = Date().addingTimeInterval(10)
  while Date() < deadline {
    var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, 500) > 0 else {
      // A stream (/events) never ends: its head is enough.
      if reply.count > 0 { break } else { continue }
    }
    let count = recv(socket, &buffer, buffer.count, 0)
    if count <= 0 { break }
    reply += buffer[..<count]
  }
  let text = String(decoding: reply, as: UTF8.self)
  let parts = text.components(separatedBy: "\r\n\r\n")
  let status = Int(parts[0].split(separator: " ").dropFirst().first ?? "") ?? 0
  return HTTPReply(
    status: status, head: parts[0], body: parts.dropFirst().joined(separator: "\r\n\r\n"))
}
