import Foundation

/// A line chart as a standalone SVG: axes with ticks, axis labels, a title and a legend.
public func renderSVG(_ plot: Plot, width: Double = 640, height: Double = 360) -> String {
  let points = plot.series.flatMap { zip($0.x, $0.y) }.filter { $0.0.isFinite && $0.1.isFinite }
  let xs = niceTicks(points.map(\.0))
  let ys = niceTicks(points.map(\.1))
  let (left, right, top, bottom) = (64.0, 16.0, plot.title.isEmpty ? 16.0 : 40.0, 48.0)
  let plotWidth = width - left - right
  let plotHeight = height - top - bottom
  func px(_ x: Double) -> Double { left + (x - xs.first!) / (xs.last! - xs.first!) * plotWidth }
  func py(_ y: Double) -> Double { top + (ys.last! - y) / (ys.last! - ys.first!) * plotHeight }
  let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

  var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" \
    width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>

    """
  if !plot.title.isEmpty {
    svg +=
      "<text x=\"\(fmt(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(xmlEscaped(plot.title))</text>\n"
  }
  for x in xs {
    svg +=
      "<line x1=\"\(fmt(px(x)))\" y1=\"\(fmt(top))\" x2=\"\(fmt(px(x)))\" y2=\"\(fmt(top + plotHeight))\" stroke=\"#eee\"/>\n"
    svg +=
      "<text x=\"\(fmt(px(x)))\" y=\"\(fmt(top + plotHeight + 16))\" text-anchor=\"middle\">\(tickLabel(x))</text>\n"
  }
  for y in ys {
    svg +=
      "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(y)))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(py(y)))\" stroke=\"#eee\"/>\n"
    svg +=
      "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(y) + 4))\" text-anchor=\"end\">\(tickLabel(y))</text>\n"
  }
  svg +=
    "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
  if !plot.xLabel.isEmpty {
    svg +=
      "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(height - 10))\" text-anchor=\"middle\">\(xmlEscaped(plot.xLabel))</text>\n"
  }
  if !plot.yLabel.isEmpty {
    svg +=
      "<text transform=\"translate(14 \(fmt(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(xmlEscaped(plot.yLabel))</text>\n"
  }
  for (index, series) in plot.series.enumerated() {
    let color = palette[index % palette.count]
    let coordinates = zip(series.x, series.y).filter { $0.0.isFinite && $0.1.isFinite }
      .map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
    svg +=
      "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(coordinates)\"/>\n"
    let legendY = top + 14 + Double(index) * 18
    svg +=
      "<line x1=\"\(fmt(left + plotWidth - 120))\" y1=\"\(fmt(legendY - 4))\" x2=\"\(fmt(left + plotWidth - 100))\" y2=\"\(fmt(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
    svg +=
      "<text x=\"\(fmt(left + plotWidth - 94))\" y=\"\(fmt(legendY))\">\(xmlEscaped(series.name))</text>\n"
  }
  return svg + "</svg>\n"
}

/// About five evenly spaced round values covering `values`.
func niceTicks(_ values: [Double]) -> [Double] {
  guard var low = values.min(), var high = values.max() else { return [0, 1] }
  if low == high {
    low -= 1
    high += 1
  }
  let rough = (high - low) / 5
  let magnitude = pow(10, floor(log10(rough)))
  let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
  let first = floor(low / step) * step
  let last = ceil(high / step) * step
  return stride(from: first, through: last + step / 2, by: step).map { $0 }
}

private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

private func tickLabel(_ value: Double) -> String {
  abs(value) < 1e-12 ? "0" : String(format: "%g", value)
}

/// `text` with XML's special characters escaped.
public func xmlEscaped(_ text: String) -> String {
  text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
