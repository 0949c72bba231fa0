/// Any key of a JSON object, to list the keys a decoder was given.
struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

extension Decoder {
  /// Throws when the object being decoded has a key outside `known`: the schema is closed,
  /// so a misspelt or forged field is an error rather than something silently dropped.
  func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(
    _ keys: Keys.Type, alsoAllowing extra: Set<String> = []
  ) throws {
    let container = try container(keyedBy: AnyKey.self)
    let known = Set(Keys.allCases.map(\.stringValue)).union(extra)
    if let unknown = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
      throw DecodingError.dataCorrupted(
        DecodingError.Context(
          codingPath: codingPath + [unknown],
          debugDescription: "unknown field \"\(unknown.stringValue)\""))
    }
  }
}
