import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// `lessons export --html`, run as a user would: the page's structure against a golden
/// file, self-containment, failures shown in their cells, exit codes and where the page goes.
@Suite("lessons export --html")
struct HTMLExportTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("HTMLFixtures")

  /// The page of `HTMLFixtures/page/lesson.md` without Node.js (so the golden file does not
  /// depend on KaTeX's version), styles left out and times masked, against `expected.html`.
  /// `UPDATE_GOLDENS=1` rewrites it.
  @Test func goldenStructure() throws {
    let folder = try copy(Self.fixtures.appendingPathComponent("page"))
    let result = try lessons(
      ["export", "lesson.md", "--html", "-o", "page.html"], in: folder,
      environment: ["LESSONS_NODE": ""])
    #expect(result.status == 1, "a check fails in the fixture, so the run's exit code is 1")
    #expect(result.stdout == "wrote page.html (the lesson did not pass: exit 1)\n")
    // Without Node.js, said once each, on standard error.
    #expect(
      result.stderr.components(separatedBy: "formulas are shown as TeX source").count == 2)
    #expect(result.stderr.components(separatedBy: "code is not highlighted").count == 2)
    let page = try String(contentsOf: folder.appendingPathComponent("page.html"), encoding: .utf8)
    let structure = page.replacingOccurrences(
      of: "<style>[^<]*</style>", with: "<style>…</style>", options: .regularExpression
    ).replacingOccurrences(
      of: "[0-9]+\\.[0-9]+ s<", with: "T s<", options: .regularExpression)
    let expectedURL = Self.fixtures.appendingPathComponent("page/expected.html")
    if ProcessInfo.processInfo.environment["UPDATE_GOLDENS"] != nil {
      try structure.write(to: expectedURL, atomically: true, encoding: .utf8)
    }
    #expect(structure == (try String(contentsOf: expectedURL, encoding: .utf8)))

    // What the page must leave out, whatever the golden file says.
    for secret in [
      "let secret = 41", "the solution's output", "2 * x", "hidden check message",
      "stale output", "lesson.assets/",
    ] {
      #expect(!page.contains(secret), "the page shows \(secret)")
    }
    #expect(page.components(separatedBy: "class=\"notice\"").count == 2)
    // The header counts what the page shows: two visible checks, not the hidden third.
    #expect(page.contains("1 of 2 checks failed"))
  }

  @Test(.enabled(if: Typesetter.locate() != nil || pageToolsRequired))
  func typesetPageIsSelfContained() throws {
    let typesetter = try #require(
      Typesetter.locate(), "Node.js is needed: Scripts/bootstrap installs it")
    let lesson = try Lesson(
      contentsOf: Self.fixtures.appendingPathComponent("page/lesson.md").path)
    let run = RunResult(status: .finished, cells: [], seconds: 0)
    let page = renderHTML(lesson, .ran(lesson, run), typesetter: typesetter)
    #expect(page.notes.allSatisfy { !$0.contains("note:") }, "\(page.notes)")
    #expect(page.html.components(separatedBy: "class=\"katex\"").count == 3)
    #expect(page.html.contains("<span class=\"katex-display\">"))
    #expect(!page.html.contains("class=\"math-tex"))
    #expect(page.html.contains("<span class=\"hljs-keyword\">func</span>"))
    // Fonts are inline; nothing is fetched.
    #expect(page.html.contains("src:url(data:font/woff2;base64,"))
    for external in ["url(fonts/", "src=\"http", "url(http", "<link", "<script"] {
      #expect(!page.html.contains(external), "the page loads \(external)")
    }
  }

  @Test func aCrashIsShownInItsCellAndThePageGoesBesideTheLesson() throws {
    let folder = try copy(EndToEndTests.fixtures.appendingPathComponent("crash"))
    let result = try lessons(["export", "lesson.md", "--html"], in: folder)
    #expect(result.status == 2)
    let page = try String(contentsOf: folder.appendingPathComponent("lesson.html"), encoding: .utf8)
    let crashed = try #require(page.range(of: "<section class=\"cell failed\" id=\"line-7\">"))
    let error = try #require(page.range(of: "<pre class=\"error\">✗ crashed: "))
    #expect(crashed.upperBound < error.lowerBound)
    #expect(page.contains("<pre class=\"stdout\">before the crash\n</pre>"))
    #expect(page.contains("Not run: the lesson stopped before this cell."))
    #expect(page.contains("<div class=\"banner\">The lesson stopped in <a href=\"#line-7\">"))
  }

  @Test func compileErrorsAreShownInTheirCells() throws {
    let folder = try copy(EndToEndTests.fixtures.appendingPathComponent("compile-error"))
    let result = try lessons(["export", "lesson.md", "--html", "-o", "out.html"], in: folder)
    #expect(result.status == 2)
    #expect(result.stderr.contains("lesson.md:8:14: error:"))
    let page = try String(contentsOf: folder.appendingPathComponent("out.html"), encoding: .utf8)
    #expect(page.contains("did not compile"))
    let failedCells = page.components(separatedBy: "<section class=\"cell failed\"").count - 1
    #expect(failedCells == 2)
    #expect(
      page.contains("lesson.md:12:9: error: cannot find &#39;undefinedName&#39;")
        || page.contains("lesson.md:12:9: error: cannot find 'undefinedName'"))
  }

  @Test func anInvalidLessonWritesNoPage() throws {
    let folder = try copy(EndToEndTests.fixtures.appendingPathComponent("unknown-attribute"))
    let result = try lessons(["export", "lesson.md", "--html"], in: folder)
    #expect(result.status == 2)
    #expect(result.stderr.contains("lesson.md:3: error: unknown cell attribute 'hiden'"))
    #expect(
      !FileManager.default.fileExists(atPath: folder.appendingPathComponent("lesson.html").path))
  }

  @Test func anUnwritableDestinationIsAnErrorAndKeepsTheOldPage() throws {
    let folder = try copy(EndToEndTests.fixtures.appendingPathComponent("ok"))
    let missing = try lessons(
      ["export", "lesson.md", "--html", "-o", "no/such/folder/page.html"], in: folder)
    #expect(missing.status == 2)
    // Found before the lesson runs, in words.
    #expect(
      missing.stderr.contains(
        "no/such/folder/page.html: error: cannot be written: the folder no/such/folder does not exist"
      ))
    // Writing over an existing page replaces it whole.
    let old = folder.appendingPathComponent("lesson.html")
    try "old page".write(to: old, atomically: true, encoding: .utf8)
    let result = try lessons(["export", "lesson.md", "--html"], in: folder)
    #expect(result.status == 0)
    #expect(try String(contentsOf: old, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
  }

  private func copy(_ fixture: URL) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lessons-\(UUID())")
    try FileManager.default.copyItem(at: fixture, to: folder)
    return folder
  }
}

@Suite("formulas in prose")
struct MathExtractionTests {
  func spans(_ text: String, fenced: [ClosedRange<Int>] = []) -> [String] {
    extractMath(from: text, skippingLines: fenced).spans.map {
      $0.display ? "$$\($0.tex)$$" : "$\($0.tex)$"
    }
  }

  @Test func inlineAndDisplay() {
    #expect(spans("a $x_1 + y$ and $$\\frac{a}{b}$$.") == ["$x_1 + y$", "$$\\frac{a}{b}$$"])
    #expect(spans("$$\na \\\\\nb\n$$") == ["$$a \\\\\nb$$"])
  }

  @Test func dollarsThatAreNotMath() {
    #expect(spans("costs $5 and $6 today") == [])
    #expect(spans("an escaped \\$ and \\$ pair") == [])
    #expect(spans("`code $x$` and `$y$`") == [])
    #expect(spans("$ x$ and $x $") == [])
    #expect(spans("$a\n\nb$") == [], "a formula does not cross a blank line")
    #expect(spans("$a` b$") == [], "nor a backtick")
  }

  @Test func codeBlocksAreSkippedAndLinesCounted() {
    let text = "line $a$\n```swift\nlet s = \"$b$\"\n```\n$$\nc\n$$ and $d$"
    let extraction = extractMath(from: text, skippingLines: [2...4])
    #expect(extraction.spans.map(\.tex) == ["a", "c", "d"])
    #expect(extraction.spans.map(\.line) == [1, 5, 7])
    #expect(extraction.text.contains("let s = \"$b$\""))
    #expect(!extraction.text.contains("$a$"))
  }
}
