/// A formula in a lesson's prose: `$...$` inline or `$$...$$` on display.
public struct MathSpan: Sendable, Equatable {
  /// The TeX between the dollar signs.
  public var tex: String
  /// Whether it was written `$$...$$`.
  public var display: Bool
  /// The 1-based line of its opening dollar sign.
  public var line: Int
}

/// Prose with its formulas taken out: each replaced by a placeholder that Markdown leaves
/// alone, so that cmark cannot read `_` or `\\` inside TeX as emphasis or escapes.
struct MathExtraction {
  /// The text with placeholders.
  var text: String
  /// The formulas, in order; formula `i` stands where `placeholder(i)` is.
  var spans: [MathSpan]

  /// Characters from Unicode's private use area: never produced by cmark, never escaped.
  static func placeholder(_ index: Int) -> String { "\u{E000}\(index)\u{E001}" }

  /// `text` with every placeholder replaced by `replacement(index)`, in one pass; a
  /// placeholder whose replacement is `nil` is left as it is.
  static func substitutingPlaceholders(
    in text: String, _ replacement: (Int) -> String?
  ) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    var rest = text[...]
    while let open = rest.firstIndex(of: "\u{E000}") {
      result += rest[..<open]
      let digits = rest.index(after: open)
      if let close = rest[digits...].prefix(20).firstIndex(of: "\u{E001}"),
        let index = Int(rest[digits..<close]), let html = replacement(index)
      {
        result += html
        rest = rest[rest.index(after: close)...]
      } else {
        result.append("\u{E000}")
        rest = rest[digits...]
      }
    }
    result += rest
    return result
  }
}

/// Finds the formulas in `text`, outside fenced code blocks (the given 1-based line
/// ranges) and inline code spans, with pandoc's rules for dollar signs: an opening `$` is
/// followed by a non-space, a closing `$` follows a non-space and is not followed by a
/// digit (so `$5 and $6` is prose), `\$` is a literal dollar, and no formula crosses a blank
/// line or a backtick.
func extractMath(from text: String, skippingLines fenced: [ClosedRange<Int>]) -> MathExtraction {
  let characters = Array(text)
  var output = ""
  var spans: [MathSpan] = []
  var line = 1
  var index = 0

  // Which lines are inside fenced blocks, looked up per line rather than per fence, so
  // that a lesson of many cells stays linear.
  var fencedLines = Set<Int>()
  for range in fenced { fencedLines.formUnion(range) }
  func isFenced(_ line: Int) -> Bool { fencedLines.contains(line) }
  /// The index of the first `$$` (or `$`, when `double` is false) that may close a formula
  /// opened before `start`, or nil when a blank line or the end comes first.
  func closing(from start: Int, double: Bool) -> Int? {
    var position = start
    while position < characters.count {
      let character = characters[position]
      if character == "\\" {
        position += 2
        continue
      }
      if character == "\n" {
        let next = characters[(position + 1)...].first { $0 != " " && $0 != "\t" }
        if next == nil || next == "\n" { return nil }  // a blank line ends the paragraph
      }
      // Code spans bind tighter than formulas: a formula never runs into one.
      if character == "`" { return nil }
      if character == "$" {
        if double {
          if position + 1 < characters.count && characters[position + 1] == "$" { return position }
        } else {
          let before = characters[position - 1]
          let after = position + 1 < characters.count ? characters[position + 1] : " "
          if !before.isWhitespace && !after.isNumber { return position }
        }
      }
      position += 1
    }
    return nil
  }

  while index < characters.count {
    let character = characters[index]
    if isFenced(line) {
      // Copy the whole line of a code block unchanged.
      while index < characters.count && characters[index] != "\n" {
        output.append(characters[index])
        index += 1
      }
      if index < characters.count {
        output.append("\n")
        line += 1
        index += 1
      }
      continue
    }
    switch character {
    case "\n":
      output.append(character)
      line += 1
      index += 1
    case "\\" where index + 1 < characters.count:
      output.append(character)
      output.append(characters[index + 1])
      if characters[index + 1] == "\n" { line += 1 }
      index += 2
    case "`":
      // An inline code span: copied as is up to the closing run of as many backticks.
      let run = characters[index...].prefix { $0 == "`" }.count
      var end = index + run
      var found = false
      while end < characters.count {
        if characters[end] == "`" {
          let closing = characters[end...].prefix { $0 == "`" }.count
          if closing == run {
            found = true
            end += closing
            break
          }
          end += closing
        } else {
          end += 1
        }
      }
      let stop = found ? end : index + run
      for copied in characters[index..<stop] {
        output.append(copied)
        if copied == "\n" { line += 1 }
      }
      index = stop
    case "$":
      let double = index + 1 < characters.count && characters[index + 1] == "$"
      let contentStart = index + (double ? 2 : 1)
      let opensWell =
        contentStart < characters.count
        && (double || !characters[contentStart].isWhitespace)
      if opensWell, let end = closing(from: contentStart, double: double), end > contentStart {
        let tex = String(characters[contentStart..<end])
        let trimmed = tex.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty {
          output += MathExtraction.placeholder(spans.count)
          spans.append(MathSpan(tex: trimmed, display: double, line: line))
          line += tex.filter { $0 == "\n" }.count
          index = end + (double ? 2 : 1)
          continue
        }
      }
      // Not a formula: keep the dollar signs as text.
      let run = double ? 2 : 1
      output += String(characters[index..<(index + run)])
      index += run
    default:
      output.append(character)
      index += 1
    }
  }
  return MathExtraction(text: output, spans: spans)
}
