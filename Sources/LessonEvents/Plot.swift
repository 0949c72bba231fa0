/// A line chart's data.
public struct Plot: Sendable, Equatable, Codable {
  /// The chart's title.
  public var title: String
  /// The x axis label.
  public var xLabel: String
  /// The y axis label.
  public var yLabel: String
  /// The lines.
  public var series: [Series]
  /// How y values map onto the axis.
  public var yScale: PlotScale

  /// A chart of `series`.
  public init(
    title: String = "", xLabel: String = "", yLabel: String = "", series: [Series],
    yScale: PlotScale = .linear
  ) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
    self.yScale = yScale
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case title, xLabel, yLabel, series, yScale
  }

  /// Decodes a chart, refusing fields it does not know.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self, alsoAllowing: RuntimeEvent.kindKey)
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      title: try fields.decode(String.self, forKey: .title),
      xLabel: try fields.decode(String.self, forKey: .xLabel),
      yLabel: try fields.decode(String.self, forKey: .yLabel),
      series: try fields.decode([Series].self, forKey: .series),
      yScale: try fields.decode(PlotScale.self, forKey: .yScale))
  }
}

/// One named line of a plot.
public struct Series: Sendable, Equatable, Codable {
  /// The legend's name for the line.
  public let name: String
  /// The x coordinates.
  public let x: [Double]
  /// The y coordinates.
  public let y: [Double]

  /// A line through `(x[i], y[i])`.
  public init(_ name: String, x: [Double], y: [Double]) {
    precondition(x.count == y.count, "Series \(name): \(x.count) x values but \(y.count) y values")
    self.name = name
    self.x = x
    self.y = y
  }

  /// A line through `(i, y[i])`.
  public init<Values: Sequence>(_ name: String, _ y: Values)
  where Values.Element: BinaryFloatingPoint {
    let values = y.map { Double($0) }
    self.init(name, x: values.indices.map(Double.init), y: values)
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, x, y
  }

  /// Decodes a line, refusing unknown fields and coordinates that do not pair up.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    let (x, y) = (
      try fields.decode([Double].self, forKey: .x), try fields.decode([Double].self, forKey: .y)
    )
    guard x.count == y.count else {
      throw DecodingError.dataCorruptedError(
        forKey: .y, in: fields, debugDescription: "\(x.count) x values but \(y.count) y values")
    }
    self.init(try fields.decode(String.self, forKey: .name), x: x, y: y)
  }
}

/// How a plot's y values map onto its axis.
public enum PlotScale: String, Sendable, Equatable, Codable {
  /// Equal steps of value are equal distances.
  case linear
  /// Equal ratios are equal distances, as matplotlib's `plt.yscale("log")`: for a loss that
  /// falls over decades. Values that are not positive are left out.
  case log
}
