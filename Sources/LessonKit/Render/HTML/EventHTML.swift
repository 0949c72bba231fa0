import Foundation

// What a cell showed, as HTML: the page and the live page draw events alike.

/// A table, with columns of numbers aligned right.
func htmlTable(headers: [String], rows: [[String]]) -> String {
  let columns = ([headers] + rows).map(\.count).max() ?? 0
  let numeric = (0..<columns).map { column in
    let values = rows.compactMap { column < $0.count ? $0[column] : nil }.filter { !$0.isEmpty }
    return !values.isEmpty && values.allSatisfy(looksNumeric)
  }
  func row(_ cells: [String], tag: String) -> String {
    "<tr>"
      + (0..<columns).map { column in
        let cell = column < cells.count ? cells[column] : ""
        return "<\(tag)\(numeric[column] ? " class=\"num\"" : "")>\(xmlEscaped(cell))</\(tag)>"
      }.joined() + "</tr>"
  }
  return """
    <div class="table-wrap"><table>
    <thead>\(row(headers, tag: "th"))</thead>
    <tbody>
    \(rows.map { row($0, tag: "td") }.joined(separator: "\n"))
    </tbody>
    </table></div>

    """
}

/// `12`, `-0.5`, `1,024`, `3.2e-4`, `7.41%`.
private func looksNumeric(_ text: String) -> Bool {
  text.range(
    of: #"^[-+−]?[0-9][0-9,]*(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*(%|×)?$"#,
    options: .regularExpression) != nil
}

/// A check, table, plot or progress bar as HTML.
func eventHTML(_ event: RuntimeEvent) -> String {
  switch event {
  case .check(let check):
    let state = check.passed ? "pass" : "fail"
    let detail = check.detail.map { " <span class=\"detail\">— \(xmlEscaped($0))</span>" } ?? ""
    let hint =
      check.passed
      ? "" : check.hint.map { "<div class=\"check-hint\">Hint: \(xmlEscaped($0))</div>" } ?? ""
    return
      "<div class=\"check-result \(state)\"><span class=\"badge\">\(check.passed ? "✓ pass" : "✗ fail")</span> "
      + "\(xmlEscaped(check.message))\(detail)\(hint)</div>\n"
  case .table(let headers, let rows):
    return htmlTable(headers: headers, rows: rows)
  case .plot(let plot):
    // A narrow chart for phones, laid out anew rather than the wide one shrunk, so that
    // its labels stay readable; the page's style shows one or the other.
    return "<figure class=\"plot\">\n"
      + renderSVG(plot).replacingOccurrences(of: "<svg ", with: "<svg class=\"wide\" ")
      + renderSVG(plot, width: 360, height: 280)
      .replacingOccurrences(of: "<svg ", with: "<svg class=\"narrow\" ")
      + "</figure>\n"
  case .progress(let label, let done, let total, _):
    let percent = total > 0 ? Int(min(max(Double(done) / Double(total), 0), 1) * 100) : 100
    return """
      <div class="progress"><span class="progress-label">\(xmlEscaped(label))</span>\
      <span class="bar"><span style="width:\(percent)%"></span></span>\
      <span class="progress-count">\(done)/\(total)</span></div>

      """
  }
}
