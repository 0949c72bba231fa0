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

    let (server, port) = try startServer(in: work)
    defer {
      server.interrupt()
      server.waitUntilExit()
    }
    let address = "http://127.0.0.1:\(port)/"
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

  /// Starts `lessons serve lesson.md` on a free port, returning the process and the port.
  private func startServer(in folder: URL) throws -> (Process, Int) {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<5 {
      let port = Int.random(in: 20_000..<60_000)
      let process = Process()
      process.executableURL = buildFolder.appendingPathComponent("lessons")
      process.arguments = ["serve", "lesson.md", "--port", "\(port)"]
      process.currentDirectoryURL = folder
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      let listening = try waitUntil(seconds: 20) {
        !process.isRunning
          || (try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/")!)) != nil
      }
      if listening && process.isRunning { return (process, port) }
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
