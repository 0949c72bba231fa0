import CCmark
import Foundation

/// Markdown rendered to HTML by cmark, with each fenced code block replaced by the HTML the
/// caller made for it (a cell with its outputs) and local images inlined as data URIs, so
/// that the page stands alone.
///
/// - Parameters:
///   - blocks: the HTML for each fenced code block in document order; `nil` drops the
///     block. Blocks beyond the list are left to cmark.
///   - folder: where relative image paths start.
/// - Returns: the HTML, and the images that could not be inlined.
func markdownHTML(_ text: String, blocks: [String?], imagesIn folder: URL) -> (
  html: String, missingImages: [String]
) {
  guard let document = parseMarkdown(text) else { return ("", []) }
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
  guard let rendered = cmark_render_html(document, CMARK_OPT_UNSAFE) else { return ("", missing) }
  defer { free(rendered) }
  return (String(cString: rendered), missing)
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
