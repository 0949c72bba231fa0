import Foundation

/// GPT-2's tokenizer: byte-level BPE, as OpenAI's `encoder.py` and Hugging Face's
/// `GPT2Tokenizer` run it, so that it gives exactly their ids.
///
/// Text is split into pieces by GPT-2's pattern (contractions, an optional space and a run
/// of letters, of digits or of other symbols, and runs of whitespace), each piece's UTF-8
/// bytes are written as printable characters by GPT-2's byte-to-unicode table (a space is
/// `Ġ`), and the merges are applied to each piece, lowest rank first. Special tokens such as
/// `<|endoftext|>` are split off before that. Every byte has a token, so any text encodes,
/// and `decode(encode(text)) == text`.
///
/// ```swift
/// let tokenizer = try GPT2Tokenizer.load(from: URL(fileURLWithPath: "models/gpt2"))
/// let ids = tokenizer.encode("Hello world")   // [15496, 995] with OpenAI's vocabulary
/// tokenizer.decode(ids)                        // "Hello world"
/// ```
public struct GPT2Tokenizer: Sendable {
  /// Token strings (in byte-to-unicode form) by id.
  private let tokens: [Int: String]
  /// Ids by token string.
  private let ids: [String: Int]
  /// Each merge's rank, keyed by its two parts joined with a space (which no byte-level
  /// token contains).
  private let ranks: [String: Int]
  /// Strings encoded as one token each, never split: `<|endoftext|>`.
  public let specialTokens: [String]
  /// Whether a space is put before text that does not start with one (`add_prefix_space`).
  public let addPrefixSpace: Bool

  /// How many tokens the vocabulary has.
  public var count: Int { ids.count }

  /// A tokenizer from a vocabulary (token string to id), merges in rank order, and the
  /// special tokens.
  public init(
    vocabulary: [String: Int], merges: [(String, String)], specialTokens: [String] = [],
    addPrefixSpace: Bool = false
  ) {
    ids = vocabulary
    tokens = Dictionary(vocabulary.map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    var ranks: [String: Int] = [:]
    for (rank, merge) in merges.enumerated() where ranks[merge.0 + " " + merge.1] == nil {
      ranks[merge.0 + " " + merge.1] = rank
    }
    self.ranks = ranks
    self.specialTokens = specialTokens.filter { vocabulary[$0] != nil }
      .sorted { $0.count > $1.count }
    self.addPrefixSpace = addPrefixSpace
  }

  /// The id of `token` (a special token, or a token in byte-to-unicode form), if it has one.
  public func id(of token: String) -> Int? { ids[token] }

  /// The ids of `text`.
  public func encode(_ text: String) -> [Int] {
    var result: [Int] = []
    var cache: [String: [Int]] = [:]
    var first = true
    for (segment, isSpecial) in splitSpecial(text) {
      if isSpecial {
        result.append(ids[segment]!)
        first = false
        continue
      }
      var segment = segment
      if addPrefixSpace, first, !segment.hasPrefix(" ") { segment = " " + segment }
      first = false
      for piece in pretokenize(segment) {
        if let known = cache[piece] {
          result += known
          continue
        }
        let encoded = bytePairEncode(piece)
        cache[piece] = encoded
        result += encoded
      }
    }
    return result
  }

  /// The text of `tokens`. Bytes that do not form UTF-8 (a prefix of a character, cut by
  /// the sequence's end) become U+FFFD, as `errors="replace"` does; an id outside the
  /// vocabulary does too.
  public func decode(_ tokens: [Int]) -> String {
    var bytes: [UInt8] = []
    for id in tokens {
      guard let token = self.tokens[id] else {
        bytes += [0xEF, 0xBF, 0xBD]
        continue
      }
      if specialTokens.contains(token) {
        bytes += Array(token.utf8)
        continue
      }
      for scalar in token.unicodeScalars {
        if let byte = ByteLevel.byte[scalar] {
          bytes.append(byte)
        } else {
          bytes += Array(String(scalar).utf8)
        }
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `text` cut around its special tokens, each piece marked.
  private func splitSpecial(_ text: String) -> [(String, Bool)] {
    guard !specialTokens.isEmpty else { return [(text, false)] }
    var pieces: [(String, Bool)] = []
    var rest = text[...]
    while !rest.isEmpty {
      var earliest: (range: Range<Substring.Index>, token: String)?
      for token in specialTokens {
        if let range = rest.range(of: token),
          earliest == nil || range.lowerBound < earliest!.range.lowerBound
        {
          earliest = (range, token)
        }
      }
      guard let (range, token) = earliest else { break }
      if range.lowerBound > rest.startIndex {
        pieces.append((String(rest[..<range.lowerBound]), false))
      }
      pieces.append((token, true))
      rest = rest[range.upperBound...]
    }
    if !rest.isEmpty { pieces.append((String(rest), false)) }
    return pieces
  }

  /// The ids of one pre-tokenized piece: its bytes as byte-level characters, merged.
  private func bytePairEncode(_ piece: String) -> [Int] {
    var parts = piece.utf8.map { String(ByteLevel.character[Int($0)]) }
    while parts.count > 1 {
      var best: (rank: Int, index: Int)?
      for index in 0..<(parts.count - 1) {
        if let rank = ranks[parts[index] + " " + parts[index + 1]],
          best == nil || rank < best!.rank
        {
          best = (rank, index)
        }
      }
      guard let best else { break }
      // Merge every occurrence of the pair, left to right, as encoder.py does.
      let (left, right) = (parts[best.index], parts[best.index + 1])
      var merged: [String] = []
      merged.reserveCapacity(parts.count)
      var index = 0
      while index < parts.count {
        if index < parts.count - 1, parts[index] == left, parts[index + 1] == right {
          merged.append(left + right)
          index += 2
        } else {
          merged.append(parts[index])
          index += 1
        }
      }
      parts = merged
    }
    // Every byte-level character is in a byte-level vocabulary; a part that is not (a
    // vocabulary without all 256) has no id to give, and is left out as HF does.
    return parts.compactMap { ids[$0] }
  }
}

/// GPT-2's pre-tokenizer, the pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// matched by hand over Unicode scalars: the same pieces, without a regex engine's cost.
func pretokenize(_ text: String) -> [String] {
  let scalars = Array(text.unicodeScalars)
  var pieces: [String] = []
  var start = 0
  let count = scalars.count
  func kind(_ index: Int) -> ScalarKind { index < count ? ScalarKind(scalars[index]) : .end }
  while start < count {
    var end = start + 1
    if scalars[start] == "'", let length = contractionLength(scalars, at: start) {
      end = start + length
    } else {
      // An optional single space, then a run of one class.
      let body = scalars[start] == " " && start + 1 < count ? start + 1 : start
      let bodyKind = kind(body)
      if bodyKind == .space {
        // A run of whitespace (from the optional space itself): all of it at the end of the
        // text, else all but its last character, which goes with the next piece
        // (\s+(?!\S)), or the one character.
        var runEnd = start
        while runEnd < count, kind(runEnd) == .space { runEnd += 1 }
        end = runEnd == count || runEnd - start == 1 ? runEnd : runEnd - 1
      } else {
        end = body + 1
        while end < count, kind(end) == bodyKind { end += 1 }
      }
    }
    var piece = String.UnicodeScalarView()
    piece.append(contentsOf: scalars[start..<end])
    pieces.append(String(piece))
    start = end
  }
  return pieces
}

/// The length of GPT-2's contraction at `index` (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`,
/// `'d`, lower case only, as in its pattern), or `nil`.
private func contractionLength(_ scalars: [Unicode.Scalar], at index: Int) -> Int? {
  func at(_ offset: Int) -> Unicode.Scalar? {
    index + offset < scalars.count ? scalars[index + offset] : nil
  }
  switch at(1) {
  case "s", "t", "m", "d": return 2
  case "r": return at(2) == "e" ? 3 : nil
  case "v": return at(2) == "e" ? 3 : nil
  case "l": return at(2) == "l" ? 3 : nil
  default: return nil
  }
}

/// The classes of GPT-2's pattern: `\p{L}`, `\p{N}`, `\s`, and everything else.
private enum ScalarKind: Equatable {
  case letter, number, space, other, end

  init(_ scalar: Unicode.Scalar) {
    if scalar.isASCII {
      switch scalar.value {
      case 0x41...0x5A, 0x61...0x7A: self = .letter
      case 0x30...0x39: self = .number
      case 0x09...0x0D, 0x20: self = .space
      default: self = .other
      }
      return
    }
    if scalar.properties.isWhitespace {
      self = .space
      return
    }
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      self = .letter
    case .decimalNumber, .letterNumber, .otherNumber:
      self = .number
    default:
      self = .other
    }
  }
}

/// GPT-2's `bytes_to_unicode`: each byte as a printable character, the printable bytes as
/// themselves and the others shifted past U+00FF, so that BPE never sees a space or a
/// control character.
enum ByteLevel {
  /// The character of each byte.
  static let character: [Character] = {
    let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var table = [Character](repeating: " ", count: 256)
    var next = 256
    for byte in 0..<256 {
      if printable.contains(byte) {
        table[byte] = Character(Unicode.Scalar(UInt8(byte)))
      } else {
        table[byte] = Character(Unicode.Scalar(UInt32(next))!)
        next += 1
      }
    }
    return table
  }()

  /// The byte of each character.
  static let byte: [Unicode.Scalar: UInt8] = Dictionary(
    uniqueKeysWithValues: character.enumerated().map { ($1.unicodeScalars.first!, UInt8($0)) })
}
