import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// Opens the exported lesson 02 in headless Chromium, as a reader would: the formulas are
/// typeset (no `$$` or TeX left in the page's text), the plot's SVG is drawn, and a
/// screenshot of the page is not blank (its pixels are counted, in the browser too).
///
/// Needs Chromium and Node.js with KaTeX (`Scripts/bootstrap --browser`). Without them
/// the test is skipped, unless `LESSONS_REQUIRE_PAGE_TOOLS=1` (set by `Scripts/test`) makes
/// a missing tool a failure.
@Suite("the exported page in a browser")
struct BrowserTests {
  @Test(.enabled(if: chromiumPath != nil || pageToolsRequired))
  func lessonTwoRendersInChromium() throws {
    let browser = try #require(chromiumPath, "Chromium is not installed")
    let lessonsFolder = Repository.lessons
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("page-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let page = folder.appendingPathComponent("02.html")
    let export = try lessons(
      ["export", "02-lora-from-scratch.md", "--html", "-o", page.path], in: lessonsFolder)
    #expect(export.status == 0, "\(export.stderr)")
    #expect(!export.stderr.contains("note:"), "KaTeX and highlight.js are needed: \(export.stderr)")
    let html = try String(contentsOf: page, encoding: .utf8)
    let formulas = extractMath(
      from: try String(
        contentsOf: lessonsFolder.appendingPathComponent("02-lora-from-scratch.md"),
        encoding: .utf8),
      skippingLines: try Lesson(
        contentsOf: lessonsFolder.appendingPathComponent("02-lora-from-scratch.md").path
      ).cells.map { $0.fenceLine...$0.endLine }
    ).spans.count

    // What the reader sees: the page's text after layout, and what the browser built.
    let probe = folder.appendingPathComponent("probe.html")
    try html.replacingOccurrences(
      of: "</body>",
      with: """
        <script>document.title = JSON.stringify({
          text: document.body.innerText,
          katex: document.querySelectorAll('.katex-html').length,
          plotLines: document.querySelectorAll('figure.plot svg polyline').length,
          tables: document.querySelectorAll('.output table').length});</script></body>
        """
    ).write(to: probe, atomically: true, encoding: .utf8)
    let seen = try pageTitle(browser, probe, extra: [])
    let text = try #require(seen["text"] as? String)
    #expect(!text.contains("$$") && !text.contains("\\frac"), "raw TeX is left in the page")
    #expect(text.contains("LoRA from scratch"))
    #expect(seen["katex"] as? Int == formulas && formulas >= 10)
    #expect((seen["plotLines"] as? Int ?? 0) >= 1)
    #expect((seen["tables"] as? Int ?? 0) >= 1)

    // A screenshot, and its pixels counted by the browser from the PNG.
    let shot = folder.appendingPathComponent("shot.png")
    _ = try chromium(
      browser, ["--window-size=1000,2000", "--screenshot=\(shot.path)", page.absoluteString])
    #expect(FileManager.default.fileExists(atPath: shot.path))
    let pixels = folder.appendingPathComponent("pixels.html")
    try """
    <!DOCTYPE html><html><head><title>pending</title></head><body><img id="shot" src="shot.png">
    <script>
    const img = document.getElementById('shot');
    function measure() {
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(img, 0, 0);
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0; const colours = new Set();
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) ink++;
        colours.add((data[i] >> 4) << 8 | (data[i + 1] >> 4) << 4 | (data[i + 2] >> 4));
      }
      document.title = JSON.stringify({width: canvas.width, height: canvas.height,
        ink: ink / (canvas.width * canvas.height), colours: colours.size});
    }
    if (img.complete) measure(); else img.onload = measure;
    </script></body></html>
    """.write(to: pixels, atomically: true, encoding: .utf8)
    let measured = try pageTitle(browser, pixels, extra: ["--allow-file-access-from-files"])
    #expect(measured["width"] as? Int == 1000)
    let ink = try #require(measured["ink"] as? Double)
    #expect(ink > 0.05, "the screenshot is almost blank: \(ink) of its pixels are not white")
    #expect((measured["colours"] as? Int ?? 0) > 20, "the screenshot has too few colours")
  }

  @Test(.enabled(if: chromiumPath != nil || pageToolsRequired))
  func longLinesWrapAtDesktopAndPhoneWidths() throws {
    let browser = try #require(chromiumPath, "Chromium is not installed")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wrap-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let long = (0..<40).map { "word\($0)" }.joined(separator: " ")
    try """
    # Long lines

    ```swift
    let generated = "\(long)"
    print(generated + " " + String(repeating: "x", count: 300))
    ```
    """.write(to: folder.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let export = try lessons(["export", "lesson.md", "--html"], in: folder)
    #expect(export.status == 0, "\(export.stderr)")
    let html = try String(contentsOf: folder.appendingPathComponent("lesson.html"), encoding: .utf8)
    let probe = folder.appendingPathComponent("probe.html")
    try html.replacingOccurrences(
      of: "</body>",
      with: """
        <script>const blocks = [...document.querySelectorAll('pre')];
        document.title = JSON.stringify({
          blocks: blocks.length,
          overflow: Math.max(...blocks.map(b => b.scrollWidth - b.clientWidth)),
          page: document.documentElement.scrollWidth - window.innerWidth});</script></body>
        """
    ).write(to: probe, atomically: true, encoding: .utf8)
    for width in [1200, 390] {
      let seen = try pageTitle(browser, probe, extra: ["--window-size=\(width),900"])
      #expect((seen["blocks"] as? Int ?? 0) >= 2, "code and output blocks at \(width) px")
      #expect(seen["overflow"] as? Int == 0, "a block scrolls sideways at \(width) px: \(seen)")
      #expect((seen["page"] as? Int ?? 1) <= 0, "the page scrolls sideways at \(width) px")
    }
  }

  /// At a phone's width, the chart shown is laid out for it: its tick labels, legend and
  /// axis titles are at least 10 px high and every text lies inside the chart. (The wide
  /// chart shrunk to fit had 7 px labels, and a long legend ran off its right edge.)
  @Test(.enabled(if: chromiumPath != nil || pageToolsRequired))
  func plotLabelsStayReadableOnAPhone() throws {
    let browser = try #require(chromiumPath, "Chromium is not installed")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try """
    # A plot

    ```swift
    let steps = (0..<300).map(Double.init)
    plot([Series("training loss, rank 8 on query and value", x: steps, y: steps.map { 4 * exp(-$0 / 60) + 0.01 }),
          Series("validation", x: steps, y: steps.map { 4.2 * exp(-$0 / 70) + 0.02 })],
         title: "Fine-tuning the char-level GPT on Tiny Shakespeare", xLabel: "optimizer step",
         yLabel: "cross-entropy", yScale: .log)
    ```
    """.write(to: folder.appendingPathComponent("lesson.md"), atomically: true, encoding: .utf8)
    let export = try lessons(["export", "lesson.md", "--html"], in: folder)
    #expect(export.status == 0, "\(export.stderr)")
    let html = try String(contentsOf: folder.appendingPathComponent("lesson.html"), encoding: .utf8)
    let probe = folder.appendingPathComponent("probe.html")
    try html.replacingOccurrences(
      of: "</body>",
      with: """
        <script>
        const shown = [...document.querySelectorAll('figure.plot svg')]
          .filter(svg => getComputedStyle(svg).display !== 'none');
        const svg = shown[0], box = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
        document.title = JSON.stringify({
          shown: shown.length, width: box.width, texts: texts.length,
          smallest: Math.min(...texts.map(r => r.height)),
          outside: texts.filter(r => r.left < box.left - 0.5 || r.right > box.right + 0.5
            || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5).length});
        </script></body>
        """
    ).write(to: probe, atomically: true, encoding: .utf8)
    for width in [1200, 390] {
      let seen = try pageTitle(browser, probe, extra: ["--window-size=\(width),900"])
      #expect(seen["shown"] as? Int == 1, "one chart at \(width) px: \(seen)")
      #expect((seen["texts"] as? Int ?? 0) >= 8, "ticks, labels and legend at \(width) px")
      #expect((seen["smallest"] as? Double ?? 0) >= 10, "text under 10 px at \(width) px: \(seen)")
      #expect(seen["outside"] as? Int == 0, "text outside the chart at \(width) px: \(seen)")
    }
  }

  /// Loads `page` and returns its title, parsed as the JSON object the page's script put there.
  private func pageTitle(_ browser: String, _ page: URL, extra: [String]) throws -> [String: Any] {
    let dom = try chromium(browser, extra + ["--dump-dom", page.absoluteString])
    let start = try #require(dom.range(of: "<title>"))
    let end = try #require(dom.range(of: "</title>", range: start.upperBound..<dom.endIndex))
    let title = String(dom[start.upperBound..<end.lowerBound])
      .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
      .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(title.utf8)) as? [String: Any],
      "the page's script did not run: \(title.prefix(200))")
  }

  private func chromium(_ browser: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: browser)
    process.arguments =
      ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(browser) failed")
    return String(decoding: data, as: UTF8.self)
  }
}
