import Foundation

/// Math typeset by KaTeX and code highlighted by highlight.js, both run once per export by
/// Node.js, so that the page itself needs no script and no network. Debian packages them
/// as `katex` and `node-highlight.js`; either may be missing, and the page then shows TeX
/// source or plain code.
public struct Typesetter: Sendable {
  /// The Node.js executable.
  public var node: String
  /// Folders searched for the `katex` and `highlight.js` modules.
  public var modulePaths: [String]

  /// A typesetter that runs `node`.
  public init(node: String, modulePaths: [String]) {
    self.node = node
    self.modulePaths = modulePaths
  }

  /// Node.js from `LESSONS_NODE`, else the first `node` or `nodejs` on `PATH`; `nil` when
  /// there is none or `LESSONS_NODE` is set empty (to export without it). Modules are looked
  /// up in `NODE_PATH`, Debian's folders and npm's global folder beside Node.js.
  public static func locate(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Typesetter? {
    var node: String?
    if let chosen = environment["LESSONS_NODE"] {
      node = chosen.isEmpty ? nil : chosen
    } else {
      let folders = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
      node =
        ["node", "nodejs"].lazy.flatMap { name in folders.lazy.map { "\($0)/\(name)" } }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    guard let node else { return nil }
    let npmGlobal = URL(fileURLWithPath: node).resolvingSymlinksInPath()
      .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "lib/node_modules"
      ).path
    let fromEnvironment = (environment["NODE_PATH"] ?? "").split(separator: ":").map(String.init)
    return Typesetter(
      node: node,
      modulePaths: fromEnvironment + ["/usr/share/nodejs", "/usr/lib/nodejs", npmGlobal])
  }

  /// Typesets `math` and highlights `code` in one run of Node.js. What cannot be done comes
  /// back `nil`, with the reason in `problems`.
  public func typeset(math: [MathSpan], code: [CodeBlockSource]) -> Typesetting {
    let request: [String: Any] = [
      "math": math.map { ["tex": $0.tex, "display": $0.display] },
      "code": code.map { ["language": $0.language, "source": $0.source] },
    ]
    let fallback = Typesetting(math: nil, mathStyle: nil, code: nil, problems: [])
    do {
      let input = FileManager.default.temporaryDirectory.appendingPathComponent(
        "lessons-typeset-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).json")
      try JSONSerialization.data(withJSONObject: request).write(to: input)
      defer { try? FileManager.default.removeItem(at: input) }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: node)
      process.arguments = ["-e", Self.script]
      var environment = ProcessInfo.processInfo.environment
      environment["NODE_PATH"] = modulePaths.joined(separator: ":")
      process.environment = environment
      process.standardInput = try FileHandle(forReadingFrom: input)
      let output = Pipe()
      process.standardOutput = output
      process.standardError = FileHandle.nullDevice
      try process.run()
      let data = output.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      guard process.terminationStatus == 0,
        let reply = try JSONSerialization.jsonObject(with: data) as? [String: Any]
      else {
        var failed = fallback
        failed.problems = ["\(node) failed (exit status \(process.terminationStatus))"]
        return failed
      }
      return Typesetting(reply: reply)
    } catch {
      var failed = fallback
      failed.problems = ["\(node) could not be run: \(error)"]
      return failed
    }
  }

  /// Reads the request on standard input and writes one JSON reply. Everything the
  /// libraries print goes to standard error (highlight.js 9 prints a notice on load).
  static let script = #"""
    const fs = require('fs'), path = require('path');
    console.log = console.warn = console.info = (...a) => console.error(...a);
    const request = JSON.parse(fs.readFileSync(0, 'utf8'));
    const reply = {problems: []};
    try {
      const katex = require('katex');
      reply.math = request.math.map(m => {
        try {
          return {html: katex.renderToString(m.tex, {displayMode: m.display, throwOnError: true})};
        } catch (e) {
          return {html: katex.renderToString(m.tex, {displayMode: m.display, throwOnError: false}),
                  error: String(e.message)};
        }
      });
      const cssFile = require.resolve('katex/dist/katex.min.css');
      // Fonts inline as data URIs (WOFF2 only: every current browser reads it).
      reply.mathStyle = fs.readFileSync(cssFile, 'utf8').replace(
        /src:url\((fonts\/[^)]+\.woff2)\)[^;}]*/g,
        (all, font) => 'src:url(data:font/woff2;base64,' +
          fs.readFileSync(path.join(path.dirname(cssFile), font)).toString('base64') +
          ") format('woff2')");
    } catch (e) { reply.problems.push('KaTeX: ' + e.message.split('\n')[0]); }
    try {
      const hljs = require('highlight.js');
      reply.code = request.code.map(c =>
        hljs.getLanguage(c.language) ? hljs.highlight(c.language, c.source, true).value : null);
    } catch (e) { reply.problems.push('highlight.js: ' + e.message.split('\n')[0]); }
    fs.writeSync(1, JSON.stringify(reply));
    """#
}

/// A code block to highlight.
public struct CodeBlockSource: Sendable, Equatable {
  /// Its language, as the info string names it.
  public var language: String
  /// The code.
  public var source: String

  /// A code block from its parts.
  public init(language: String, source: String) {
    self.language = language
    self.source = source
  }
}

/// What typesetting produced; `nil` where a tool was not available.
public struct Typesetting: Sendable {
  /// One entry per formula, when KaTeX ran.
  public var math: [TypesetMath]?
  /// KaTeX's stylesheet with its fonts inline, when KaTeX ran.
  public var mathStyle: String?
  /// Highlighted HTML per code block (`nil` for a language highlight.js does not know),
  /// when highlight.js ran.
  public var code: [String?]?
  /// Why a tool could not be used.
  public var problems: [String]

  /// Nothing typeset: TeX source and plain code.
  public static let none = Typesetting(math: nil, mathStyle: nil, code: nil, problems: [])

  init(math: [TypesetMath]?, mathStyle: String?, code: [String?]?, problems: [String]) {
    self.math = math
    self.mathStyle = mathStyle
    self.code = code
    self.problems = problems
  }

  init(reply: [String: Any]) {
    math = (reply["math"] as? [[String: Any]])?.map {
      TypesetMath(html: $0["html"] as? String ?? "", error: $0["error"] as? String)
    }
    mathStyle = reply["mathStyle"] as? String
    code = (reply["code"] as? [Any])?.map { $0 as? String }
    problems = reply["problems"] as? [String] ?? []
  }
}

/// One formula as KaTeX rendered it.
public struct TypesetMath: Sendable, Equatable {
  /// The HTML (and MathML) for the formula.
  public var html: String
  /// KaTeX's complaint, when the TeX is wrong; the HTML then shows the source in red.
  public var error: String?
}
