import Foundation
import LessonTestSupport
import Testing

@testable import LessonKit

/// The parsed document that every edit of a lesson starts from: one walk gives typed
/// blocks with their lines, and `applying` is the one way a lesson's text is changed.
@Suite("The parsed document")
struct LessonDocumentTests {
  /// Every course lesson and every lesson input the fuzzer keeps: real files, and the odd
  /// ones that once broke the parser.
  static var texts: [(name: String, text: String)] {
    let corpus = Repository.root.appendingPathComponent("Fuzz/Corpus/lesson")
    let files =
      Repository.lessonNames.map { Repository.lessons.appendingPathComponent($0) }
      + ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).sorted()
      .map { corpus.appendingPathComponent($0) }
    return files.compactMap { file in
      guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
      return (file.lastPathComponent, withNewlineEndings(String(decoding: data, as: UTF8.self)))
    }
  }

  @Test("printing what was parsed and parsing it again gives the same document")
  func roundTrip() {
    let texts = Self.texts
    #expect(texts.count > 20)
    for (name, text) in texts {
      let document = LessonDocument(parsing: text)
      let printed = document.applying([])
      #expect(printed == text, "\(name): no edit changed the text")
      #expect(LessonDocument(parsing: printed) == document, "\(name)")
    }
  }

  @Test("one walk gives each block its kind and its lines")
  func blocksAndLines() {
    let text = """
      # Fitting *a* line

      Some prose,
      over two lines.

      ```swift exercise id=fit
      let x = 1
      ```

      ```output
      1
      ```

      ![loss](lesson.assets/cell-1-plot-1.svg)

      - a list
      - with a cell:

        ```swift
        print(2)
        ```
      """
    let blocks = LessonDocument(parsing: text).blocks
    #expect(
      blocks == [
        .init(kind: .heading(level: 1, text: "Fitting a line"), lines: 1...1),
        .init(kind: .prose, lines: 3...4),
        .init(kind: .code(info: "swift exercise id=fit", literal: "let x = 1\n"), lines: 6...8),
        .init(kind: .code(info: "output", literal: "1\n"), lines: 10...12),
        .init(kind: .image(url: "lesson.assets/cell-1-plot-1.svg"), lines: 14...14),
        .init(kind: .prose, lines: 16...21),
        .init(kind: .code(info: "swift", literal: "print(2)\n"), lines: 19...21),
      ])
    #expect(LessonDocument(parsing: text).title == "Fitting a line")
  }

  /// `applying` against the plainest reference: the same edits made one at a time, from
  /// the bottom of the text up, on random texts and random edits that do not overlap.
  @Test("edits apply as if made one at a time from the bottom up")
  func editsMatchAReference() {
    var generator = SplitMix64(seed: 7)
    for _ in 0..<500 {
      let count = 1 + Int(generator.next() % 12)
      let lines = (0..<count).map { "line \($0)" + String(repeating: "`", count: $0 % 3) }
      let document = LessonDocument(parsing: lines.joined(separator: "\n"))
      // Cut points in order; each edit takes the lines between two of them, or inserts.
      var cuts = (0..<Int(generator.next() % 6)).map { _ in
        Int(generator.next() % UInt64(count + 1))
      }
      cuts.sort()
      var edits: [LessonDocument.Edit] = []
      var previous = 0
      for cut in cuts where cut >= previous {
        let start = previous + Int(generator.next() % UInt64(cut - previous + 1))
        let replacement = (0..<Int(generator.next() % 3)).map { "new \($0) at \(start)" }
        edits.append(LessonDocument.Edit(start..<cut, with: replacement))
        previous = cut
      }
      var expected = lines
      for edit in edits.reversed() {
        expected.replaceSubrange(edit.lines, with: edit.replacement)
      }
      // The order they are given in does not matter, but between insertions at one line.
      let distinct = Set(edits.map(\.lines.lowerBound)).count == edits.count
      let given = distinct ? edits.shuffled(using: &generator) : edits
      #expect(document.applying(given) == expected.joined(separator: "\n"), "\(lines) \(edits)")
    }
  }
}

extension SplitMix64: RandomNumberGenerator {}
