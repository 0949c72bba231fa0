import Foundation

/// A lesson exported as one HTML page, and what the person exporting it should be told.
public struct HTMLPage: Sendable {
  /// The page: styles, fonts, formulas and plots inline; no script, nothing to fetch.
  public var html: String
  /// Warnings for standard error: a missing math renderer (said once), TeX errors with
  /// their lines, images that could not be inlined.
  public var notes: [String]

  /// A page from its parts.
  public init(html: String, notes: [String]) {
    self.html = html
    self.notes = notes
  }
}

/// The lesson and its run as one self-contained page: prose through cmark, formulas by
/// KaTeX, code highlighted, each cell's outputs beneath it (text, HTML tables, SVG plots,
/// check badges, progress bars in their final state). Hidden cells, hidden checks and
/// solutions are left out, and so is what an exercise printed when its solution ran.
///
/// `outcome` is the lesson's run or its compile errors; `nil` while it is running, for the
/// live page of `lessons serve`, which fills the outputs in as they come.
public func renderHTML(_ lesson: Lesson, _ outcome: LessonOutcome?, typesetter: Typesetter?)
  -> HTMLPage
{
  var page = PageBuilder(lesson: lesson, outcome: outcome)
  return page.render(typesetter: typesetter)
}

/// What one fenced block of the lesson shows on the page.
private struct CellView {
  /// The block whose code is shown, or `nil` for a hidden cell that shows only its failure.
  var code: Cell?
  /// A caption: the exercise, the check, "not run".
  var label: String?
  /// The output of the program cell at this position.
  var output: CellOutput?
  /// Whether the output would give away a solution.
  var outputWithheld = false
  /// Why the lesson stopped here, when it did.
  var failure: String?
  /// Whether the lesson stopped before this cell.
  var notReached = false
  /// A hint block's folded HTML, shown instead of code.
  var hint: String?
}

private struct PageBuilder {
  let lesson: Lesson
  /// How the lesson went; `nil` while it runs.
  let outcome: LessonOutcome?
  /// The run, when the lesson compiled.
  let result: RunResult?
  /// Each started cell's output, by lesson cell.
  let outputs: [Int: CellOutput]
  /// The compiler's error lines, each with the lesson cell it is shown in (if any).
  let compileErrors: [(cell: Int?, text: String)]
  var notes: [String] = []

  init(lesson: Lesson, outcome: LessonOutcome?) {
    self.lesson = lesson
    self.outcome = outcome
    if case .ran(_, let result) = outcome { self.result = result } else { self.result = nil }
    outputs = Dictionary(
      (result?.cells ?? []).map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
    if case .didNotCompile(_, let error) = outcome {
      compileErrors = error.diagnostics.filter { $0.severity == .error }.map {
        (cellShowing(line: $0.line, in: lesson)?.index, $0.text)
      }
    } else {
      compileErrors = []
    }
  }

  mutating func render(typesetter: Typesetter?) -> HTMLPage {
    let views = lesson.cells.map(view)
    // The page shows each cell's plots under it: the links `--write` recorded would show
    // them twice.
    let text = lesson.document.applying(
      RecordedOutputs(lesson).plotLinks.map { .init($0.line..<($0.line + 1), with: [""]) })
    let math = extractMath(
      from: text,
      skippingLines: lesson.cells.map { $0.fenceLine...$0.endLine })
    let code = views.compactMap { $0?.code }.map {
      CodeBlockSource(language: $0.language, source: $0.source)
    }
    let typesetting = typesetter?.typeset(math: math.spans, code: code) ?? .none
    noteMissingTools(typesetting, typesetter: typesetter, hasMath: !math.spans.isEmpty)

    var highlighted = (typesetting.code ?? []).makeIterator()
    let blocks = views.map { view -> String? in
      guard let view else { return nil }
      return fragment(view, highlighted: view.code == nil ? nil : highlighted.next() ?? nil)
    }
    let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent()
    var (body, missingImages) = Cmark.html(math.text, blocks: blocks, imagesIn: folder)
    for image in missingImages {
      notes.append("\(lesson.path): warning: image '\(image)' was not found; the page links to it")
    }
    for (index, span) in math.spans.enumerated() {
      if let error = typesetting.math?[index].error {
        notes.append("\(lesson.path):\(span.line): warning: math: \(error)")
      }
    }
    // One pass over the page for all formulas: a replacement per formula would read the
    // whole page once per formula.
    body = MathExtraction.substitutingPlaceholders(in: body) { index in
      guard math.spans.indices.contains(index) else { return nil }
      return typesetting.math?[index].html ?? texSource(math.spans[index])
    }
    let mathNotice =
      !math.spans.isEmpty && typesetting.math == nil
      ? "<p class=\"notice\">Formulas are shown as TeX source: KaTeX was not available when this page was made.</p>\n"
      : ""
    let html = page(
      body: header() + mathNotice + body,
      mathStyle: math.spans.isEmpty ? nil : typesetting.mathStyle)
    return HTMLPage(html: html, notes: notes)
  }

  private mutating func noteMissingTools(
    _ typesetting: Typesetting, typesetter: Typesetter?, hasMath: Bool
  ) {
    let why =
      typesetter == nil
      ? "Node.js was not found" : typesetting.problems.joined(separator: "; ")
    if hasMath && typesetting.math == nil {
      notes.append(
        "\(lesson.path): note: formulas are shown as TeX source: \(why) "
          + "(Debian: apt-get install katex)")
    }
    if typesetting.code == nil {
      notes.append(
        "\(lesson.path): note: code is not highlighted: \(why) "
          + "(Debian: apt-get install node-highlight.js)")
    }
  }

  // MARK: What each cell shows

  private func view(of cell: Cell) -> CellView? {
    var view = CellView(code: cell, output: outputs[cell.index], failure: failure(at: cell))
    // Every cell that started has an output, so a missing one was never reached.
    view.notReached = cell.role.isExecuted && view.output == nil && result != nil
    switch cell.role {
    case .output, .solution:
      return nil
    case .hidden, .check(_, hidden: true):
      // Left out, unless the lesson stopped in it.
      guard view.failure != nil else { return nil }
      view.code = nil
      view.output = nil
      view.label = "hidden cell"
    case .exercise(let id, let points):
      view.label = "Exercise <code>\(xmlEscaped(id))</code> · \(counted(points, "point"))"
      if let output = view.output, output.codeCell != cell.index {
        view.output = nil
        view.outputWithheld = true
      }
    case .check(let id, hidden: false):
      view.label = "Checks for <code>\(xmlEscaped(id))</code>"
    case .noRun:
      view.label = "Shown, not run"
    case .hint(let id):
      // Folded, as a hint should be: the reader opens it when they want it.
      view.code = nil
      let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent()
      view.hint =
        "<details class=\"hint\" id=\"line-\(cell.fenceLine)\"><summary>Hint "
        + "\(lesson.hintNumber(of: cell) ?? 1) for <code>\(xmlEscaped(id))</code></summary>\n"
        + Cmark.html(cell.source, blocks: [], imagesIn: folder).html + "</details>\n"
    case .code, .other:
      break
    }
    return view
  }

  /// Why the lesson stopped in `cell`, when it did.
  private func failure(at cell: Cell) -> String? {
    switch outcome {
    case .notRun, nil:
      return nil
    case .didNotCompile:
      let messages = compileErrors.filter { $0.cell == cell.index }.map(\.text)
      return messages.isEmpty ? nil : messages.joined(separator: "\n")
    case .ran(_, let result):
      return result.failure(inCell: cell.index)
    }
  }

  // MARK: HTML

  private func fragment(_ view: CellView, highlighted: String?) -> String {
    if let hint = view.hint { return hint }
    let line = view.code?.fenceLine ?? 0
    var classes = ["cell"]
    if let role = view.code?.role {
      switch role {
      case .exercise: classes.append("exercise")
      case .check: classes.append("check")
      case .other, .noRun: classes.append("static")
      default: break
      }
    }
    if view.failure != nil { classes.append("failed") }
    if view.notReached { classes.append("not-reached") }
    var html = "<section class=\"\(classes.joined(separator: " "))\""
    if line > 0 { html += " id=\"line-\(line)\"" }
    html += ">\n"
    if let label = view.label { html += "<div class=\"cell-label\">\(label)</div>\n" }
    if let code = view.code {
      let language = code.language.isEmpty ? "text" : code.language
      html +=
        "<pre class=\"source\"><code class=\"language-\(xmlEscaped(language))\">"
        + (highlighted ?? xmlEscaped(code.source)) + "</code></pre>\n"
    }
    var outputs = ""
    if let output = view.output { outputs += render(output) }
    if view.outputWithheld {
      outputs += "<p class=\"withheld\">Output left out: it comes from the solution.</p>\n"
    }
    if let failure = view.failure {
      outputs += "<pre class=\"error\">✗ \(xmlEscaped(failure))</pre>\n"
    }
    if view.notReached {
      outputs += "<p class=\"withheld\">Not run: the lesson stopped before this cell.</p>\n"
    }
    if !outputs.isEmpty { html += "<div class=\"output\">\n\(outputs)</div>\n" }
    return html + "</section>\n"
  }

  private func render(_ output: CellOutput) -> String {
    var html = ""
    for item in output.items {
      switch item {
      case .text(let text):
        let cleaned = withoutTerminalCodes(text)
        if !cleaned.isEmpty { html += "<pre class=\"stdout\">\(xmlEscaped(cleaned))</pre>\n" }
      case .event(let event):
        html += eventHTML(event)
      }
    }
    if !output.stderr.isEmpty {
      html += "<pre class=\"stderr\">\(xmlEscaped(withoutTerminalCodes(output.stderr)))</pre>\n"
    }
    return html
  }

  private func header() -> String {
    var parts = ["<span class=\"file\">\(xmlEscaped(lastComponent(lesson.path)))</span>"]
    var banner: String?
    switch outcome {
    case nil:
      parts.append("<span class=\"running\">running…</span>")
    case .notRun(let error):
      parts.append("<span class=\"bad\">could not run</span>")
      banner = "The lesson could not run: <pre>\(xmlEscaped("\(error)"))</pre>"
    case .didNotCompile(_, let error):
      parts.append("<span class=\"bad\">did not compile</span>")
      let unplaced = compileErrors.filter { $0.cell == nil }.map(\.text)
      banner =
        "The lesson did not compile, so nothing ran. "
        + (compileErrors.isEmpty || !unplaced.isEmpty
          ? "The compiler said:<pre>\(xmlEscaped(unplaced.isEmpty ? error.output : unplaced.joined(separator: "\n")))</pre>"
          : "The errors are shown in the cells where they are.")
    case .ran(_, let result):
      // The page leaves hidden checks out, so its count does too (a failed one is still said).
      let isHiddenCheck = { (output: CellOutput) -> Bool in
        if case .check(_, hidden: true) = lesson.cells[output.cell].role { return true }
        return false
      }
      let checks = result.cells.filter { !isHiddenCheck($0) }.flatMap(\.checks)
      let hiddenFailed = result.cells.filter(isHiddenCheck).flatMap(\.checks)
        .filter { !$0.passed }.count
      let failed = checks.filter { !$0.passed }.count
      parts.append(counted(result.cells.count, "cell") + " ran")
      if !checks.isEmpty {
        parts.append(
          failed == 0
            ? "<span class=\"good\">\(counted(checks.count, "check")) passed</span>"
            : "<span class=\"bad\">\(failed) of \(counted(checks.count, "check")) failed</span>")
      }
      if hiddenFailed > 0 {
        parts.append("<span class=\"bad\">\(counted(hiddenFailed, "hidden check")) failed</span>")
      }
      parts.append(
        "<span class=\"seconds\">\(String(format: result.seconds < 10 ? "%.2f" : "%.1f", result.seconds)) s</span>"
      )
      switch result.status {
      case .finished: break
      case .stopped(let cell, .timeout):
        banner = "The lesson stopped\(place(cell)): it \(result.stopMessage ?? "")."
      case .stopped(let cell, _):
        banner =
          "The lesson stopped\(place(cell)): it crashed (\(xmlEscaped(result.stopMessage ?? "")))."
      }
    }
    return "<header class=\"run-summary\">\(parts.joined(separator: " · "))</header>\n"
      + (banner.map { "<div class=\"banner\">\($0)</div>\n" } ?? "")
  }

  private func place(_ cell: Int?) -> String {
    guard let cell, cell < lesson.cells.count else { return "" }
    let line = lesson.cells[cell].fenceLine
    return " in <a href=\"#line-\(line)\">the cell at line \(line)</a>"
  }

  private func page(body: String, mathStyle: String?) -> String {
    """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="generator" content="lessons">
    <title>\(xmlEscaped(lesson.title ?? lastComponent(lesson.path)))</title>
    <style>
    \(pageStyle)</style>
    \(mathStyle.map { "<style>\n\($0)\n</style>\n" } ?? "")</head>
    <body>
    <main>
    \(body)</main>
    <footer>Exported by <code>lessons export --html</code> from \
    \(xmlEscaped(lastComponent(lesson.path))). Everything this page shows is inside it.</footer>
    </body>
    </html>

    """
  }
}

/// A formula as its TeX source, for when KaTeX is missing.
private func texSource(_ span: MathSpan) -> String {
  let delimiter = span.display ? "$$" : "$"
  return "<code class=\"math-tex\(span.display ? " display" : "")\">"
    + xmlEscaped(delimiter + span.tex + delimiter) + "</code>"
}

/// The cell a lesson line belongs to on the page: a solution's lines belong to its exercise.
private func cellShowing(line: Int, in lesson: Lesson) -> Cell? {
  guard let cell = lesson.cells.first(where: { $0.fenceLine <= line && line <= $0.endLine })
  else { return nil }
  if case .solution(let id) = cell.role {
    return lesson.cells.first {
      if case .exercise(id, _) = $0.role { return true } else { return false }
    }
  }
  return cell
}

private func lastComponent(_ path: String) -> String {
  URL(fileURLWithPath: path).lastPathComponent
}
