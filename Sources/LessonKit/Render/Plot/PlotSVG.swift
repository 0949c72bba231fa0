import Foundation

/// A line chart as a standalone SVG: axes with ticks, axis labels, a title and a legend.
///
/// The layout is computed from the font size, not fixed in pixels: the margins fit the
/// longest tick label, the x axis gets as many ticks as fit side by side, and the legend
/// goes inside the top right corner when it is narrow enough, else in rows under the title.
/// So a small chart (`width: 360`, as HTML pages show on a phone) keeps readable text
/// instead of shrinking a wide one.
public func renderSVG(
  _ plot: Plot, width: Double = 640, height: Double = 360, fontSize: Double = 12
) -> String {
  let layout = SVGLayout(plot, width: width, height: height, fontSize: fontSize)
  let (x, y) = (layout.x, layout.y)
  let area = layout.area
  func px(_ value: Double) -> Double? { x.fraction(value).map { area.minX + $0 * area.width } }
  func py(_ value: Double) -> Double? { y.fraction(value).map { area.maxY - $0 * area.height } }
  let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

  var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" \
    width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" \
    font-size="\(fmt(fontSize))">
    <rect width="100%" height="100%" fill="white"/>

    """
  for (index, titleLine) in layout.title.enumerated() {
    svg += text(
      titleLine, x: width / 2, y: layout.titleBaseline + Double(index) * fontSize * 1.6,
      anchor: "middle", extra: " font-size=\"\(fmt(fontSize * 1.25))\" font-weight=\"bold\"")
  }
  for tick in x.ticks {
    guard let position = px(tick) else { continue }
    svg += line(position, area.minY, position, area.maxY, stroke: "#eee")
    svg += text(
      x.label(tick), x: position, y: area.maxY + fontSize * 1.3, anchor: "middle", class: "tick")
  }
  for tick in y.ticks {
    guard let position = py(tick) else { continue }
    svg += line(area.minX, position, area.maxX, position, stroke: "#eee")
    svg += text(
      y.label(tick), x: area.minX - fontSize / 2, y: position + fontSize / 3, anchor: "end",
      class: "tick")
  }
  svg +=
    "<rect x=\"\(fmt(area.minX))\" y=\"\(fmt(area.minY))\" width=\"\(fmt(area.width))\" "
    + "height=\"\(fmt(area.height))\" fill=\"none\" stroke=\"#333\"/>\n"
  if !plot.xLabel.isEmpty {
    svg += text(
      shortened(plot.xLabel, to: area.width, fontSize), x: area.midX,
      y: height - fontSize * 0.6, anchor: "middle")
  }
  let yTitle = shortened(
    plot.yLabel + (y.scale == .log ? " (log scale)" : ""), to: area.height, fontSize)
  if !yTitle.isEmpty {
    svg +=
      "<text transform=\"translate(\(fmt(fontSize * 1.2)) \(fmt(area.midY))) rotate(-90)\" "
      + "text-anchor=\"middle\">\(xmlEscaped(yTitle))</text>\n"
  }
  for (index, series) in plot.series.enumerated() {
    let color = palette[index % palette.count]
    let coordinates = zip(series.x, series.y).compactMap { point -> String? in
      guard let column = px(point.0), let row = py(point.1) else { return nil }
      return "\(fmt(column)),\(fmt(row))"
    }.joined(separator: " ")
    svg +=
      "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" "
      + "points=\"\(coordinates)\"/>\n"
  }
  for (index, entry) in layout.legend.enumerated() {
    let color = palette[index % palette.count]
    svg += line(
      entry.x, entry.y - fontSize / 3, entry.x + fontSize * 1.6, entry.y - fontSize / 3,
      stroke: color, width: 2)
    svg += text(
      shortened(plot.series[index].name, to: area.maxX - entry.x - fontSize * 2.6, fontSize),
      x: entry.x + fontSize * 2.1, y: entry.y, anchor: "start", class: "legend")
  }
  return svg + "</svg>\n"
}

/// Where everything of a chart goes, in SVG units.
private struct SVGLayout {
  var x: PlotAxis
  var y: PlotAxis
  /// The plotting area.
  var area: Box
  /// The title, in lines that fit the width.
  var title: [String]
  var titleBaseline: Double
  /// The baseline start of each series' legend entry.
  var legend: [(x: Double, y: Double)]

  init(_ plot: Plot, width: Double, height: Double, fontSize: Double) {
    let lineHeight = fontSize * 1.5
    let yAxis = PlotAxis(plot.series.flatMap(\.y), scale: plot.yScale)
    y = yAxis
    let yLabelWidth = yAxis.ticks.map { textWidth(yAxis.label($0), fontSize) }.max() ?? 0
    let left =
      (plot.yLabel.isEmpty && yAxis.scale == .linear ? fontSize : lineHeight * 1.4)
      + yLabelWidth + fontSize
    let right = fontSize * 1.5
    let plotWidth = max(width - left - right, fontSize)
    // As many x ticks as fit with a gap of two characters between their labels.
    let xValues = plot.series.flatMap(\.x)
    func fits(_ axis: PlotAxis) -> Bool {
      let widest = axis.ticks.map { textWidth(axis.label($0), fontSize) }.max() ?? 0
      return Double(axis.ticks.count) * (widest + 2 * fontSize) <= plotWidth
    }
    x =
      (1...6).reversed().lazy.map { PlotAxis(xValues, scale: .linear, targetTicks: $0) }
      .first(where: fits) ?? PlotAxis(xValues, scale: .linear, targetTicks: 1)

    titleBaseline = fontSize * 1.9
    title = wrapped(plot.title, to: width - 2 * fontSize, fontSize * 1.25)
    var top =
      title.isEmpty
      ? lineHeight : titleBaseline + Double(title.count - 1) * fontSize * 1.6 + lineHeight * 0.8
    let named = plot.series.map(\.name)
    let entryWidths = named.map { textWidth($0, fontSize) + fontSize * 3 }
    let legendWidth = entryWidths.max() ?? 0
    let bottom = (plot.xLabel.isEmpty ? lineHeight * 1.4 : lineHeight * 2.4)
    if named.allSatisfy(\.isEmpty) {
      legend = []
    } else if legendWidth <= plotWidth * 0.45 {
      // Inside, in the top right corner, one entry per line.
      legend = named.indices.map {
        (left + plotWidth - legendWidth, top + lineHeight * (Double($0) + 0.9))
      }
    } else {
      // Under the title, in rows that wrap at the chart's width.
      var entries: [(x: Double, y: Double)] = []
      var (column, row) = (left, top + fontSize)
      for entryWidth in entryWidths {
        if column > left, column + entryWidth > left + plotWidth {
          (column, row) = (left, row + lineHeight)
        }
        entries.append((column, row))
        column += entryWidth
      }
      legend = entries
      top = row + lineHeight * 0.8
    }
    area = Box(
      minX: left, minY: top, width: plotWidth, height: max(height - top - bottom, fontSize))
  }
}

/// A rectangle in SVG units, y growing downwards.
private struct Box {
  var minX: Double
  var minY: Double
  var width: Double
  var height: Double
  var maxX: Double { minX + width }
  var maxY: Double { minY + height }
  var midX: Double { minX + width / 2 }
  var midY: Double { minY + height / 2 }
}

/// An estimate of how wide `text` is set in sans-serif at `fontSize`: an average character
/// is about 0.6 em, a digit 0.56 em.
private func textWidth(_ text: String, _ fontSize: Double) -> Double {
  Double(text.count) * fontSize * 0.6
}

/// `text` in lines no wider than `width`, broken between words (a word longer than a line
/// is shortened).
private func wrapped(_ text: String, to width: Double, _ fontSize: Double) -> [String] {
  var lines: [String] = []
  for word in text.split(separator: " ").map(String.init) {
    if let last = lines.last, textWidth(last + " " + word, fontSize) <= width {
      lines[lines.count - 1] = last + " " + word
    } else {
      lines.append(shortened(word, to: width, fontSize))
    }
  }
  return lines
}

/// `text`, cut and ended with an ellipsis if it is wider than `width`.
private func shortened(_ text: String, to width: Double, _ fontSize: Double) -> String {
  guard textWidth(text, fontSize) > width else { return text }
  let fitting = max(Int(width / (fontSize * 0.6)) - 1, 0)
  return String(text.prefix(fitting)) + "…"
}

private func text(
  _ content: String, x: Double, y: Double, anchor: String, class name: String? = nil,
  extra: String = ""
) -> String {
  "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" text-anchor=\"\(anchor)\""
    + (name.map { " class=\"\($0)\"" } ?? "") + "\(extra)>\(xmlEscaped(content))</text>\n"
}

private func line(
  _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double? = nil
) -> String {
  "<line x1=\"\(fmt(x1))\" y1=\"\(fmt(y1))\" x2=\"\(fmt(x2))\" y2=\"\(fmt(y2))\" "
    + "stroke=\"\(stroke)\"" + (width.map { " stroke-width=\"\(fmt($0))\"" } ?? "") + "/>\n"
}

private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

/// `text` with XML's special characters escaped.
public func xmlEscaped(_ text: String) -> String {
  text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
