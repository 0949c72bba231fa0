import Foundation

/// One line of the private channel from a lesson program to the runner that started it.
///
/// Every line carries the run's key (lines without it are not the program's) and how many
/// bytes the program had written to standard output and error when it sent the line, so
/// the runner can cut the output files into cells and place each event among a cell's text.
///
/// ```json
/// {"key": "…", "stdout": 0, "stderr": 0, "cell": 0, "started": "9f2c…"}
/// {"key": "…", "stdout": 41, "stderr": 0, "cell": 0, "event": {"kind": "check", …}}
/// {"key": "…", "stdout": 97, "stderr": 0, "finished": "4be1…"}
/// ```
public struct ChannelLine: Sendable, Equatable, Codable {
  /// The run's key, which only the runner and the program know.
  public var key: String
  /// Bytes written to standard output before this line was sent.
  public var stdout: Int
  /// Bytes written to standard error before this line was sent.
  public var stderr: Int
  /// What the line says.
  public var message: ChannelMessage

  /// A line from its parts.
  public init(key: String, stdout: Int, stderr: Int, message: ChannelMessage) {
    self.key = key
    self.stdout = stdout
    self.stderr = stderr
    self.message = message
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case key, stdout, stderr, cell, started, finished, event
  }

  /// Decodes a line, refusing unknown fields and fields that do not go together.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    key = try fields.decode(String.self, forKey: .key)
    stdout = try fields.decode(Int.self, forKey: .stdout)
    stderr = try fields.decode(Int.self, forKey: .stderr)
    let cell = try fields.decodeIfPresent(Int.self, forKey: .cell)
    let started = try fields.decodeIfPresent(String.self, forKey: .started)
    let finished = try fields.decodeIfPresent(String.self, forKey: .finished)
    let event = try fields.decodeIfPresent(RuntimeEvent.self, forKey: .event)
    switch (cell, started, finished, event) {
    case (let cell?, let token?, nil, nil): message = .cellStarted(cell: cell, token: token)
    case (nil, nil, let token?, nil): message = .finished(token: token)
    case (let cell?, nil, nil, let event?): message = .event(cell: cell, event)
    default:
      throw DecodingError.dataCorrupted(
        DecodingError.Context(
          codingPath: [],
          debugDescription: "a line is a cell's start (cell, started), the finish (finished) "
            + "or a cell's event (cell, event)"))
    }
  }

  /// Encodes the line as one flat object.
  public func encode(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: CodingKeys.self)
    try fields.encode(key, forKey: .key)
    try fields.encode(stdout, forKey: .stdout)
    try fields.encode(stderr, forKey: .stderr)
    switch message {
    case .cellStarted(let cell, let token):
      try fields.encode(cell, forKey: .cell)
      try fields.encode(token, forKey: .started)
    case .finished(let token):
      try fields.encode(token, forKey: .finished)
    case .event(let cell, let event):
      try fields.encode(cell, forKey: .cell)
      try fields.encode(event, forKey: .event)
    }
  }

  /// The line as JSON text without its newline.
  public func encoded() throws -> Data {
    try EventJSON.encoder().encode(self)
  }

  /// Decodes one line of JSON text.
  public init(decoding data: Data) throws {
    self = try EventJSON.decoder().decode(ChannelLine.self, from: data)
  }
}

/// What a channel line says.
public enum ChannelMessage: Sendable, Equatable {
  /// Program cell `cell` starts; `token` is the one the runner compiled into the program
  /// for that cell, which cell code cannot know.
  case cellStarted(cell: Int, token: String)
  /// Every cell ran to its end; `token` is the program's last.
  case finished(token: String)
  /// Program cell `cell` showed something.
  case event(cell: Int, RuntimeEvent)
}

/// The one JSON dialect of events, on the channel and in `lessons run --json`: sorted keys,
/// and non-finite numbers (a loss that diverged) as the strings `NaN`, `Infinity` and
/// `-Infinity`, which standard JSON has no numbers for.
public enum EventJSON {
  /// An encoder in this dialect, pretty-printed or one object per line.
  public static func encoder(pretty: Bool = false) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return encoder
  }

  /// A decoder in this dialect.
  public static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return decoder
  }
}
