/// A check's result, as the lesson program reports it.
public struct Check: Sendable, Equatable, Codable {
  /// Whether it held.
  public var passed: Bool
  /// What it checks, in words.
  public var message: String
  /// Why it failed, when it did.
  public var detail: String?
  /// What to try, sent only when it failed.
  public var hint: String?
  /// The lesson line of the `check` call.
  public var line: Int
  /// The values compared, for `checkEqual` and `checkClose` (strong checks); `nil` for a
  /// plain `check`.
  public var values: CheckValues?

  /// A check's result from its parts.
  public init(
    passed: Bool, message: String, detail: String? = nil, hint: String? = nil, line: Int,
    values: CheckValues? = nil
  ) {
    self.passed = passed
    self.message = message
    self.detail = detail
    self.hint = hint
    self.line = line
    self.values = values
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case passed, message, detail, hint, line, values
  }

  /// Decodes a check, refusing fields it does not know.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self, alsoAllowing: RuntimeEvent.kindKey)
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      passed: try fields.decode(Bool.self, forKey: .passed),
      message: try fields.decode(String.self, forKey: .message),
      detail: try fields.decodeIfPresent(String.self, forKey: .detail),
      hint: try fields.decodeIfPresent(String.self, forKey: .hint),
      line: try fields.decode(Int.self, forKey: .line),
      values: try fields.decodeIfPresent(CheckValues.self, forKey: .values))
  }
}

/// What a strong check compared: `checkEqual`'s values as text, `checkClose`'s as numbers
/// (a tensor's as a sample of at most 4,096 elements), with its tolerance.
public struct CheckValues: Sendable, Equatable, Codable {
  /// The computed value.
  public var actual: Value
  /// The value it was compared with.
  public var expected: Value
  /// `checkClose`'s tolerance, relative above magnitude 1; `nil` for `checkEqual`.
  public var tolerance: Double?

  /// The compared values, with `checkClose`'s tolerance.
  public init(actual: Value, expected: Value, tolerance: Double? = nil) {
    self.actual = actual
    self.expected = expected
    self.tolerance = tolerance
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case actual, expected, tolerance
  }

  /// Decodes compared values, refusing fields they do not have.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      actual: try fields.decode(Value.self, forKey: .actual),
      expected: try fields.decode(Value.self, forKey: .expected),
      tolerance: try fields.decodeIfPresent(Double.self, forKey: .tolerance))
  }

  /// A compared value: in JSON, a string or an array of numbers.
  public enum Value: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `checkEqual`'s, as `String(describing:)` prints it.
    case text(String)
    /// `checkClose`'s.
    case numbers([Double])

    /// The text, the number, or how many numbers.
    public var description: String {
      switch self {
      case .text(let text): return text
      case .numbers(let numbers) where numbers.count == 1: return "\(numbers[0])"
      case .numbers(let numbers): return "\(numbers.count) numbers"
      }
    }

    /// Decodes a string as `.text` and an array of numbers as `.numbers`.
    public init(from decoder: Decoder) throws {
      let value = try decoder.singleValueContainer()
      if let text = try? value.decode(String.self) {
        self = .text(text)
      } else {
        self = .numbers(try value.decode([Double].self))
      }
    }

    /// Encodes `.text` as a string and `.numbers` as an array.
    public func encode(to encoder: Encoder) throws {
      var value = encoder.singleValueContainer()
      switch self {
      case .text(let text): try value.encode(text)
      case .numbers(let numbers): try value.encode(numbers)
      }
    }
  }

  /// Whether `value` matches `reference` as the check would compare them: equal text, or
  /// equal counts of numbers each within the tolerance. A NaN matches nothing, not even
  /// another NaN, as a NaN result never should.
  public func matches(_ value: Value, _ reference: Value) -> Bool {
    switch (value, reference) {
    case (.text(let a), .text(let b)): return a == b
    case (.numbers(let a), .numbers(let b)):
      let tolerance = self.tolerance ?? 0
      return a.count == b.count
        && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * Swift.max(1, abs($1)) + 1e-12 }
    default: return false
    }
  }
}
