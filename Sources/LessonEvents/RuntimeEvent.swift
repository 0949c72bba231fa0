/// Something a cell showed besides text: the events a lesson program sends and the runner
/// renders. In JSON, an object whose `kind` says which, with the case's fields beside it:
///
/// ```json
/// {"kind": "check", "passed": true, "message": "B starts at zero", "line": 12}
/// {"kind": "table", "headers": ["rank", "parameters"], "rows": [["4", "800"]]}
/// {"kind": "plot", "title": "", "xLabel": "step", "yLabel": "loss", "yScale": "log",
///  "series": [{"name": "loss", "x": [0, 1], "y": [2.5, 1.9]}]}
/// {"kind": "progress", "label": "fine-tuning", "done": 40, "total": 200, "seconds": 3.1}
/// ```
public enum RuntimeEvent: Sendable, Equatable, Codable {
  /// A check's result.
  case check(Check)
  /// A table.
  case table(headers: [String], rows: [[String]])
  /// A line chart.
  case plot(Plot)
  /// The state of a progress bar: `done` of `total` steps after `seconds`.
  case progress(label: String, done: Int, total: Int, seconds: Double)

  /// The field that says which kind of event an object is.
  static let kindKey: Set<String> = ["kind"]

  /// The kinds of event, as the `kind` field names them.
  public enum Kind: String, Sendable, Codable, CaseIterable {
    case check, table, plot, progress
  }

  /// This event's kind.
  public var kind: Kind {
    switch self {
    case .check: return .check
    case .table: return .table
    case .plot: return .plot
    case .progress: return .progress
    }
  }

  private enum KindKey: String, CodingKey { case kind }
  private enum TableKeys: String, CodingKey, CaseIterable { case headers, rows }
  private enum ProgressKeys: String, CodingKey, CaseIterable { case label, done, total, seconds }

  /// Decodes an event by its `kind`, refusing fields that kind does not have.
  public init(from decoder: Decoder) throws {
    switch try decoder.container(keyedBy: KindKey.self).decode(Kind.self, forKey: .kind) {
    case .check:
      self = .check(try Check(from: decoder))
    case .plot:
      self = .plot(try Plot(from: decoder))
    case .table:
      try decoder.rejectUnknownKeys(TableKeys.self, alsoAllowing: Self.kindKey)
      let fields = try decoder.container(keyedBy: TableKeys.self)
      self = .table(
        headers: try fields.decode([String].self, forKey: .headers),
        rows: try fields.decode([[String]].self, forKey: .rows))
    case .progress:
      try decoder.rejectUnknownKeys(ProgressKeys.self, alsoAllowing: Self.kindKey)
      let fields = try decoder.container(keyedBy: ProgressKeys.self)
      self = .progress(
        label: try fields.decode(String.self, forKey: .label),
        done: try fields.decode(Int.self, forKey: .done),
        total: try fields.decode(Int.self, forKey: .total),
        seconds: try fields.decode(Double.self, forKey: .seconds))
    }
  }

  /// Encodes the event as one object: its `kind` and the case's fields.
  public func encode(to encoder: Encoder) throws {
    var kindField = encoder.container(keyedBy: KindKey.self)
    try kindField.encode(kind, forKey: .kind)
    switch self {
    case .check(let check):
      try check.encode(to: encoder)
    case .plot(let plot):
      try plot.encode(to: encoder)
    case .table(let headers, let rows):
      var fields = encoder.container(keyedBy: TableKeys.self)
      try fields.encode(headers, forKey: .headers)
      try fields.encode(rows, forKey: .rows)
    case .progress(let label, let done, let total, let seconds):
      var fields = encoder.container(keyedBy: ProgressKeys.self)
      try fields.encode(label, forKey: .label)
      try fields.encode(done, forKey: .done)
      try fields.encode(total, forKey: .total)
      try fields.encode(seconds, forKey: .seconds)
    }
  }
}
