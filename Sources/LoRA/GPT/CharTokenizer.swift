/// Turns text into integer tokens, one per character, and back, as the course's GPT reads it.
///
/// The vocabulary is the sorted set of characters in a corpus, as in Karpathy's char-level
/// models, so the same corpus always gives the same ids.
///
/// ```swift
/// let tokenizer = CharTokenizer(corpus: "hello")
/// let ids = try tokenizer.encode("hell")   // [1, 0, 2, 2]
/// tokenizer.decode(ids)                     // "hell"
/// ```
public struct CharTokenizer: Codable, Equatable, Sendable {
  /// The characters, in id order.
  public let vocabulary: [Character]
  private let ids: [Character: Int]

  /// A tokenizer whose vocabulary is every distinct character of `corpus`, sorted.
  public init(corpus: String) {
    self.init(vocabulary: Array(Set(corpus)).sorted())
  }

  /// A tokenizer with the given characters as ids 0, 1, …; each must appear once.
  public init(vocabulary: [Character]) {
    self.vocabulary = vocabulary
    ids = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
  }

  /// How many distinct tokens there are.
  public var count: Int { vocabulary.count }

  /// The ids of `text`'s characters.
  /// - Throws: `TokenizerError.unknownCharacter` naming the character and its position.
  public func encode(_ text: String) throws -> [Int] {
    try text.enumerated().map { offset, character in
      guard let id = ids[character] else {
        throw TokenizerError.unknownCharacter(
          character, offset: offset, vocabulary: String(vocabulary))
      }
      return id
    }
  }

  /// The text of `tokens`. An id outside the vocabulary, which no model trained with this
  /// tokenizer produces, becomes U+FFFD (�), as an invalid byte does in decoded UTF-8.
  public func decode(_ tokens: [Int]) -> String {
    String(tokens.map { vocabulary.indices.contains($0) ? vocabulary[$0] : "\u{FFFD}" })
  }

  enum CodingKeys: String, CodingKey { case vocabulary }

  /// Reads a tokenizer saved as its vocabulary string.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let characters = Array(try container.decode(String.self, forKey: .vocabulary))
    var seen = Set<Character>()
    if let repeated = characters.first(where: { !seen.insert($0).inserted }) {
      throw DecodingError.dataCorruptedError(
        forKey: .vocabulary, in: container,
        debugDescription:
          "the vocabulary lists \(String(reflecting: String(repeated))) twice; each character "
          + "must have one id")
    }
    self.init(vocabulary: characters)
  }

  /// Saves the tokenizer as its vocabulary string.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(String(vocabulary), forKey: .vocabulary)
  }
}

/// Text that a tokenizer cannot encode.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
  /// A character outside the vocabulary, at a character offset of the text.
  case unknownCharacter(Character, offset: Int, vocabulary: String)

  /// A message naming what went wrong and where.
  public var description: String {
    switch self {
    case .unknownCharacter(let character, let offset, let vocabulary):
      return
        "character \(String(reflecting: String(character))) at offset \(offset) is not in the "
        + "vocabulary \(String(reflecting: vocabulary))"
    }
  }
}
