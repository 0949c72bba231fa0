import Foundation

/// The live page of `lessons serve`: the exported page with a small script that follows
/// the run through an `EventSource` and updates each cell in place, without reloading.
///
/// Messages are JSON, one per server-sent event. `page` replaces the page's `<main>` (when a
/// run starts, with the lesson's new text and no outputs; when it ends, with the finished
/// page, as `export --html` writes it). The others name a cell by its fence's `line` (its
/// section's id is `line-N`) and carry the HTML to add: `cellStarted` (clears the cell's
/// outputs), `output`, `check`, `table`, `plot`, `progress` (replaces the bar before it),
/// `cellFinished`.
public struct LivePage {
  private let lesson: Lesson
  /// Lesson cell → the cell whose code ran there (an exercise's solution, in a key).
  private var codeCells: [Int: Int] = [:]

  /// Messages for runs of `lesson`.
  public init(lesson: Lesson) {
    self.lesson = lesson
  }

  /// The message for `item`, or `nil` for something the page does not show (a hidden cell,
  /// what an exercise's solution printed).
  public mutating func message(_ item: RunEvent) -> String? {
    switch item {
    case .cellStarted(let position, let code):
      codeCells[position] = code
      return shown(position) ? Self.encode(["kind": "cellStarted", "line": line(position)]) : nil
    case .cellFinished(let position):
      return shown(position) ? Self.encode(["kind": "cellFinished", "line": line(position)]) : nil
    case .truncated:
      return message(item.truncationAsText)
    case .compiling, .started, .progress, .stopped:
      return nil
    case .text(let position, let text, let stderr):
      let cleaned = withoutTerminalCodes(text)
      guard shown(position), !cleaned.isEmpty else { return nil }
      return Self.encode([
        "kind": "output", "line": line(position),
        "html": "<pre class=\"\(stderr ? "stderr" : "stdout")\">\(xmlEscaped(cleaned))</pre>\n",
      ])
    case .event(let position, let event):
      guard shown(position) else { return nil }
      return Self.encode([
        "kind": event.kind.rawValue, "line": line(position), "html": eventHTML(event),
      ])
    }
  }

  /// The message that replaces the page's content with `page`'s, and a line on where the
  /// exercises stand when the run is over.
  public static func pageMessage(_ page: HTMLPage, exercises: [ExerciseStatus] = []) -> String {
    encode(["kind": "page", "html": exerciseBar(exercises) + mainContent(of: page.html)])
  }

  /// A page that only says why the lesson could not run (it could not be read).
  public static func errorPage(_ message: String) -> HTMLPage {
    HTMLPage(html: "<main>\n<pre class=\"error\">\(xmlEscaped(message))</pre></main>", notes: [])
  }

  /// `page` as served: its content with the exercise line, and the script that follows runs.
  public static func servedHTML(_ page: HTMLPage, exercises: [ExerciseStatus] = []) -> String {
    let content = mainContent(of: page.html)
    return page.html
      .replacingOccurrences(
        of: "<main>\n" + content, with: "<main>\n" + exerciseBar(exercises) + content
      )
      .replacingOccurrences(of: "</body>", with: script + "</body>")
  }

  private func shown(_ position: Int) -> Bool {
    let cell = lesson.cells[position]
    switch cell.role {
    case .hidden, .check(_, hidden: true): return false
    case .exercise: return codeCells[position] == position
    default: return true
    }
  }

  private func line(_ position: Int) -> Int { lesson.cells[position].fenceLine }

  private static func encode(_ object: [String: Any]) -> String {
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  /// What `<main>` holds in a rendered page.
  private static func mainContent(of html: String) -> String {
    guard let start = html.range(of: "<main>\n"),
      let end = html.range(of: "</main>", options: .backwards)
    else { return html }
    return String(html[start.upperBound..<end.lowerBound])
  }

  /// `Exercises: ✓ a ✗ b`, as `watch` ends a run.
  private static func exerciseBar(_ exercises: [ExerciseStatus]) -> String {
    guard !exercises.isEmpty else { return "" }
    let items = exercises.map { exercise in
      let passed = exercise.state == .passed
      return "<a class=\"\(passed ? "good" : "bad")\" href=\"#line-\(exercise.line)\">"
        + "\(passed ? "✓" : "✗") \(xmlEscaped(exercise.id))</a>"
    }
    return "<nav class=\"exercise-status\">Exercises: \(items.joined(separator: " "))</nav>\n"
  }

  /// Follows `/events` and updates the page in place.
  private static let script = """
    <script>
    (() => {
      const section = (line) => document.getElementById("line-" + line);
      const outputOf = (cell) => {
        let output = cell.querySelector(":scope > .output");
        if (!output) {
          output = document.createElement("div");
          output.className = "output";
          cell.appendChild(output);
        }
        return output;
      };
      let pages = 0;
      const source = new EventSource("/events");
      source.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.kind === "page") {
          document.querySelector("main").innerHTML = message.html;
          document.body.dataset.pages = String(++pages);
          return;
        }
        const cell = section(message.line);
        if (!cell) return;
        if (message.kind === "cellStarted") {
          cell.classList.add("running");
          cell.querySelector(":scope > .output")?.remove();
        } else if (message.kind === "cellFinished") {
          cell.classList.remove("running");
        } else if (message.html) {
          const output = outputOf(cell);
          const last = output.lastElementChild;
          if (message.kind === "progress" && last && last.classList.contains("progress")) last.remove();
          output.insertAdjacentHTML("beforeend", message.html);
        }
      };
    })();
    </script>

    """
}
