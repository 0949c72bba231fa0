import CCmark
import Foundation

/// cmark, and the only file that calls it: a lesson's text read into `LessonDocument`
/// blocks in one walk, and Markdown rendered to HTML for the page. Its C types stay here.
enum Cmark {
  /// The blocks of `text` (with `\n` line endings), in document order: each heading, fenced
  /// code block and image paragraph, wherever it stands, and every other top-level block as
  /// prose.
  static func blocks(of text: String) -> [LessonDocument.Block] {
    guard let document = parse(text) else { return [] }
    defer { cmark_node_free(document) }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    var blocks: [LessonDocument.Block] = []
    /// The heading being read, whose text comes from the nodes inside it.
    var heading: (node: OpaquePointer, level: Int, text: String)?
    let iterator = cmark_iter_new(document)
    defer { cmark_iter_free(iterator) }
    while cmark_iter_next(iterator) != CMARK_EVENT_DONE {
      guard let node = cmark_iter_get_node(iterator) else { continue }
      let entering = cmark_iter_get_event_type(iterator) == CMARK_EVENT_ENTER
      let type = cmark_node_get_type(node)
      if let current = heading {
        if node == current.node && !entering {
          blocks.append(
            .init(kind: .heading(level: current.level, text: current.text), lines: lineRange(node)))
          heading = nil
        } else if entering, let literal = cmark_node_get_literal(node) {
          heading?.text += String(cString: literal)
        }
        continue
      }
      guard entering else { continue }
      switch type {
      case CMARK_NODE_HEADING:
        heading = (node, Int(cmark_node_get_heading_level(node)), "")
      case CMARK_NODE_CODE_BLOCK where isFenced(node, lines: lines):
        blocks.append(
          .init(
            kind: .code(
              info: cmark_node_get_fence_info(node).map { String(cString: $0) } ?? "",
              literal: cmark_node_get_literal(node).map { String(cString: $0) } ?? ""),
            lines: lineRange(node)))
      case CMARK_NODE_PARAGRAPH:
        if let image = onlyImage(in: node) {
          blocks.append(
            .init(
              kind: .image(url: cmark_node_get_url(image).map { String(cString: $0) } ?? ""),
              lines: lineRange(node)))
        } else if cmark_node_parent(node) == document {
          blocks.append(.init(kind: .prose, lines: lineRange(node)))
        }
      case CMARK_NODE_DOCUMENT:
        break
      default:
        if cmark_node_parent(node) == document {
          blocks.append(.init(kind: .prose, lines: lineRange(node)))
        }
      }
    }
    return blocks.sorted { $0.lines.lowerBound < $1.lines.lowerBound }
  }

  /// `text` rendered to HTML, with each fenced code block replaced by the HTML the caller
  /// made for it and local images inlined as data URIs, so that the page stands alone.
  ///
  /// - Parameters:
  ///   - blocks: the HTML for each fenced code block in document order; `nil` drops the
  ///     block. Blocks beyond the list are left to cmark.
  ///   - folder: where relative image paths start.
  /// - Returns: the HTML, and the images that could not be inlined.
  static func html(_ text: String, blocks: [String?], imagesIn folder: URL) -> (
    html: String, missingImages: [String]
  ) {
    guard let document = parse(text) else { return ("", []) }
    defer { cmark_node_free(document) }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)

    // cmark's nodes may only change once the walk is over: collect first.
    var fencedBlocks: [OpaquePointer] = []
    var images: [OpaquePointer] = []
    let iterator = cmark_iter_new(document)
    while cmark_iter_next(iterator) != CMARK_EVENT_DONE {
      guard let node = cmark_iter_get_node(iterator),
        cmark_iter_get_event_type(iterator) == CMARK_EVENT_ENTER
      else { continue }
      switch cmark_node_get_type(node) {
      case CMARK_NODE_CODE_BLOCK where isFenced(node, lines: lines): fencedBlocks.append(node)
      case CMARK_NODE_IMAGE: images.append(node)
      default: break
      }
    }
    cmark_iter_free(iterator)

    var missing: [String] = []
    for image in images {
      guard let url = cmark_node_get_url(image).map({ String(cString: $0) }),
        !url.isEmpty, !url.contains(":"), !url.hasPrefix("#")
      else { continue }
      let file = folder.appendingPathComponent(url.removingPercentEncoding ?? url)
      if let data = try? Data(contentsOf: file) {
        _ = cmark_node_set_url(image, dataURI(data, fileExtension: file.pathExtension))
      } else {
        missing.append(url)
      }
    }
    for (node, replacement) in zip(fencedBlocks, blocks) {
      if let replacement {
        let html = cmark_node_new(CMARK_NODE_HTML_BLOCK)
        _ = cmark_node_set_literal(html, replacement)
        _ = cmark_node_replace(node, html)
      } else {
        cmark_node_unlink(node)
      }
      cmark_node_free(node)
    }
    // Unsafe means raw HTML passes through: the lesson's own, and the cells'.
    guard let rendered = cmark_render_html(document, CMARK_OPT_UNSAFE) else {
      return ("", missing)
    }
    defer { free(rendered) }
    return (String(cString: rendered), missing)
  }

  /// cmark's document tree for `text`, to be freed with `cmark_node_free`.
  private static func parse(_ text: String) -> OpaquePointer? {
    let utf8 = Array(text.utf8)
    return utf8.withUnsafeBufferPointer { buffer in
      buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
        cmark_parse_document($0, buffer.count, CMARK_OPT_DEFAULT)
      }
    }
  }

  /// Whether a code block node is fenced (a cell) rather than indented (a prose example).
  /// Debian's cmark 0.30 has no `cmark_node_get_fenced`, so the opening line is read.
  private static func isFenced(_ node: OpaquePointer, lines: [Substring]) -> Bool {
    let start = Int(cmark_node_get_start_line(node))
    guard start >= 1 && start <= lines.count else { return false }
    let opening = lines[start - 1].drop { $0 == " " }
    return opening.hasPrefix("```") || opening.hasPrefix("~~~")
  }

  /// The image a paragraph holds and nothing else (`![title](file.svg)` on its own), if so.
  private static func onlyImage(in paragraph: OpaquePointer) -> OpaquePointer? {
    guard let child = cmark_node_first_child(paragraph), cmark_node_next(child) == nil,
      cmark_node_get_type(child) == CMARK_NODE_IMAGE
    else { return nil }
    return child
  }

  /// A node's 1-based lines.
  private static func lineRange(_ node: OpaquePointer) -> ClosedRange<Int> {
    let start = Int(cmark_node_get_start_line(node))
    return start...max(start, Int(cmark_node_get_end_line(node)))
  }
}

/// `data:` URI for a file's bytes, its type guessed from the extension.
func dataURI(_ data: Data, fileExtension: String) -> String {
  let types = [
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "svg": "image/svg+xml", "webp": "image/webp",
  ]
  let type = types[fileExtension.lowercased()] ?? "application/octet-stream"
  return "data:\(type);base64,\(data.base64EncodedString())"
}
