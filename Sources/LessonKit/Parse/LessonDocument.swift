/// A lesson's Markdown as one parse gives it: the text (with `\n` line endings) and its
/// blocks, each with its lines. Every change to a lesson's file (`--write`'s outputs, the
/// student's hand-out, the page's text) is a list of `Edit`s applied to it by `applying`.
public struct LessonDocument: Sendable, Equatable {
  /// The text that was parsed.
  public let text: String
  /// Its blocks in document order, by first line: each heading, fenced code block and
  /// image paragraph, wherever it stands, and every other top-level block as prose (a cell
  /// in a list is a block of its own, inside the list's).
  public let blocks: [Block]

  /// One block and its lines.
  public struct Block: Sendable, Equatable {
    /// What it is.
    public var kind: Kind
    /// Its 1-based lines, first to last.
    public var lines: ClosedRange<Int>
  }

  /// What a block is.
  public enum Kind: Sendable, Equatable {
    /// A heading, with its text.
    case heading(level: Int, text: String)
    /// A fenced code block: a cell, an `output` block, a `hint`, or another language's.
    case code(info: String, literal: String)
    /// A paragraph that is one image: the plot links `--write` makes are these.
    case image(url: String)
    /// Anything else: paragraphs, lists, quotes, HTML, indented code.
    case prose
  }

  /// A change to the text: `lines` (0-based, half-open; empty to insert) replaced by
  /// `replacement`.
  public struct Edit: Sendable, Equatable {
    /// The lines replaced.
    public var lines: Range<Int>
    /// What stands there instead.
    public var replacement: [String]

    /// Replaces `lines` with `replacement`.
    public init(_ lines: Range<Int>, with replacement: [String]) {
      self.lines = lines
      self.replacement = replacement
    }

    /// Inserts `lines` before the 0-based line `line`.
    public static func insert(_ lines: [String], before line: Int) -> Edit {
      Edit(line..<line, with: lines)
    }

    /// Removes `lines`.
    public static func remove(_ lines: Range<Int>) -> Edit { Edit(lines, with: []) }
  }

  /// Parses `text`, whose line endings are `\n`.
  public init(parsing text: String) {
    self.text = text
    self.blocks = Cmark.blocks(of: text)
  }

  /// The text's lines, as edits count them.
  public var lines: [Substring] { text.split(separator: "\n", omittingEmptySubsequences: false) }

  /// The first heading's text.
  public var title: String? {
    for block in blocks { if case .heading(_, let text) = block.kind { return text } }
    return nil
  }

  /// The text with `edits` made, in one pass. Edits are taken in order of their first
  /// line, an insertion before a replacement at the same line; a line two edits claim goes
  /// to the first. No edit gives the text back byte for byte.
  public func applying(_ edits: [Edit]) -> String {
    guard !edits.isEmpty else { return text }
    let lines = self.lines
    let ordered = edits.enumerated().sorted {
      ($0.element.lines.lowerBound, $0.element.lines.count, $0.offset)
        < ($1.element.lines.lowerBound, $1.element.lines.count, $1.offset)
    }.map(\.element)
    var result: [Substring] = []
    result.reserveCapacity(lines.count)
    var position = 0
    for edit in ordered {
      let start = min(max(edit.lines.lowerBound, position), lines.count)
      let end = min(max(edit.lines.upperBound, start), lines.count)
      result += lines[position..<start]
      result += edit.replacement.map { Substring($0) }
      position = end
    }
    result += lines[position...]
    return result.joined(separator: "\n")
  }
}
