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

  /// What the page may edit: the version of the lesson's text it shows (edits are written
  /// only over that version) and the fence lines of the cells it may edit.
  public struct Editing: Sendable, Equatable {
    /// `CellEdit.version(of:)` of the lesson's text.
    public var version: String
    /// The cells the page offers to edit, by their fence's line.
    public var lines: [Int]

    /// What the page of `lesson` may edit.
    public init(lesson: Lesson) {
      version = CellEdit.version(of: lesson.text)
      lines = CellEdit.editableCells(of: lesson).map(\.fenceLine)
    }
  }

  /// The message that replaces the page's content with `page`'s, and a line on where the
  /// exercises stand when the run is over.
  public static func pageMessage(
    _ page: HTMLPage, exercises: [ExerciseStatus] = [], editing: Editing? = nil
  ) -> String {
    var message: [String: Any] = [
      "kind": "page", "html": exerciseBar(exercises) + mainContent(of: page.html),
    ]
    if let editing {
      message["version"] = editing.version
      message["editable"] = editing.lines
    }
    return encode(message)
  }

  /// A page that only says why the lesson could not run (it could not be read).
  public static func errorPage(_ message: String) -> HTMLPage {
    HTMLPage(html: "<main>\n<pre class=\"error\">\(xmlEscaped(message))</pre></main>", notes: [])
  }

  /// `page` as served: its content with the exercise line, the editor, and the script that
  /// follows runs and sends edits.
  public static func servedHTML(
    _ page: HTMLPage, exercises: [ExerciseStatus] = [], editing: Editing? = nil
  ) -> String {
    let content = mainContent(of: page.html)
    var body = "<body"
    if let editing {
      body +=
        " data-version=\"\(editing.version)\" data-editable=\""
        + editing.lines.map(String.init).joined(separator: " ") + "\""
    }
    return page.html
      .replacingOccurrences(
        of: "<main>\n" + content, with: "<main>\n" + exerciseBar(exercises) + content
      )
      .replacingOccurrences(of: "</head>", with: EditorAssets.headHTML + editorStyle + "</head>")
      .replacingOccurrences(of: "<body>", with: body + ">")
      .replacingOccurrences(of: "</body>", with: script + "</body>")
  }

  private static let editorStyle = """
    <style>
    .CodeMirror, textarea.cell-editor { height: auto; border: 1px solid #ccc; font: 13px/1.4 monospace; }
    textarea.cell-editor { width: 100%; min-height: 4em; }
    .edit-note { color: #a00; font: 13px sans-serif; margin: 0.3em 0; }
    .edit-help { color: #666; font: 12px sans-serif; }
    </style>

    """

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

  /// `Exercises: ✓ a ✗ b · Next: exercise b, line 42`, as `watch` ends a run.
  private static func exerciseBar(_ exercises: [ExerciseStatus]) -> String {
    guard !exercises.isEmpty else { return "" }
    let items = exercises.map { exercise in
      let passed = exercise.state == .passed
      return "<a class=\"\(passed ? "good" : "bad")\" href=\"#line-\(exercise.line)\">"
        + "\(passed ? "✓" : "✗") \(xmlEscaped(exercise.id))</a>"
    }
    // As `watch` ends a run: the exercise to do next, or that every one passes.
    let next =
      exercises.first { $0.state != .passed }.map {
        " · Next: <a href=\"#line-\($0.line)\">exercise \(xmlEscaped($0.id)), line \($0.line)</a>"
      } ?? " · Every exercise passes."
    return
      "<nav class=\"exercise-status\">Exercises: \(items.joined(separator: " "))\(next)</nav>\n"
  }

  /// Follows `/events` and updates the page in place; turns the editable cells into
  /// editors whose Ctrl-Enter (⌘-Enter) writes the cell and so runs the lesson again.
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
      const note = (cell, text) => {
        cell.querySelector(":scope > .edit-note")?.remove();
        if (!text) return;
        const p = document.createElement("p");
        p.className = "edit-note";
        p.textContent = text;
        cell.insertBefore(p, cell.querySelector(":scope > .output"));
      };
      // Text typed but not yet run, by cell line: kept when a run redraws the page.
      const unsaved = {};
      const save = async (line, source) => {
        const cell = section(line);
        note(cell, "");
        try {
          const response = await fetch("/cell", {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({line, source, version: document.body.dataset.version || ""}),
          });
          const result = await response.json();
          if (response.ok) {
            document.body.dataset.version = result.version;
            delete unsaved[line];
          } else {
            note(cell, result.message);
          }
        } catch (error) {
          note(cell, "not saved: the server cannot be reached (" + error + ")");
        }
      };
      const attachEditors = () => {
        const lines = (document.body.dataset.editable || "").split(" ").filter((x) => x);
        for (const line of lines) {
          const cell = section(line);
          const pre = cell?.querySelector(":scope > pre.source");
          if (!pre) continue;
          const source = unsaved[line] ?? pre.textContent.replace(/\\n$/, "");
          const run = (text) => save(Number(line), text);
          let editor;
          if (window.CodeMirror) {
            editor = CodeMirror((element) => pre.replaceWith(element), {
              value: source, mode: "swift", lineNumbers: true, viewportMargin: Infinity,
              indentUnit: 2, extraKeys: {
                "Ctrl-Enter": (cm) => run(cm.getValue()), "Cmd-Enter": (cm) => run(cm.getValue()),
              },
            });
            editor.on("change", (cm) => { unsaved[line] = cm.getValue(); });
          } else {
            editor = document.createElement("textarea");
            editor.className = "cell-editor";
            editor.value = source;
            editor.rows = source.split("\\n").length + 1;
            editor.addEventListener("input", () => { unsaved[line] = editor.value; });
            editor.addEventListener("keydown", (event) => {
              if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
                event.preventDefault();
                run(editor.value);
              }
            });
            pre.replaceWith(editor);
          }
          cell.dataset.editor = "true";
          const help = document.createElement("p");
          help.className = "edit-help";
          help.textContent = "Ctrl-Enter saves this cell and runs the lesson";
          cell.insertBefore(help, cell.querySelector(":scope > .output"));
        }
      };
      let pages = 0;
      const source = new EventSource("/events");
      source.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.kind === "page") {
          document.querySelector("main").innerHTML = message.html;
          if (message.version) document.body.dataset.version = message.version;
          if (message.editable) document.body.dataset.editable = message.editable.join(" ");
          attachEditors();
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
      attachEditors();
    })();
    </script>

    """
}
