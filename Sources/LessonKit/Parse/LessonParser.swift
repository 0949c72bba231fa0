import Foundation

extension Lesson {
  /// Reads the lesson at `path`, checking that it is a readable UTF-8 file.
  ///
  /// - Parameter checkingReferences: whether every `for=` must name an exercise of this file;
  ///   off for submissions graded with a key, whose checks come from the key.
  public init(contentsOf path: String, checkingReferences: Bool = true) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw LessonError(file: path, "no such file")
    }
    guard !isDirectory.boolValue else {
      throw LessonError(file: path, "is a directory, not a Markdown lesson")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw LessonError(file: path, "cannot be read")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      let offset = firstInvalidUTF8Offset(data)
      let before = data.prefix(offset)
      let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
      // The column counts the characters before the bad byte on its line, as an editor does.
      let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex
      let column = String(decoding: data[lineStart..<offset], as: UTF8.self).count + 1
      throw LessonError(
        file: path, line: line,
        "is not valid UTF-8 at column \(column): save the file as UTF-8")
    }
    try self.init(parsing: text, path: path, checkingReferences: checkingReferences)
  }

  /// Parses Markdown into a lesson (one walk of cmark's tree, `LessonDocument`) and checks
  /// every cell's info string.
  public init(parsing original: String, path: String, checkingReferences: Bool = true) throws {
    guard !original.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw LessonError(file: path, "is empty")
    }
    if let line = loneCarriageReturnLine(original) {
      // cmark ends a line there and the runner's write-back would not: their line numbers
      // would disagree, and outputs would be written into the wrong place.
      throw LessonError(
        file: path, line: line,
        "has a carriage return (\\r) that does not end the line; save the file with \\n "
          + "or \\r\\n line endings")
    }
    // Swift reads "\r\n" as one Character, so line-splitting code would see a CRLF file as
    // one line while cmark counts every line: work on "\n" endings, and write the file's
    // own back (`Lesson.lineEnding`).
    let lineEnding = LineEnding(of: original)
    let text = withNewlineEndings(original)
    let document = LessonDocument(parsing: text)
    var cells: [Cell] = []
    for block in document.blocks {
      guard case .code(let info, let literal) = block.kind else { continue }
      let (language, role) = try cellRole(info: info, file: path, line: block.lines.lowerBound)
      cells.append(
        Cell(
          index: cells.count, language: language, role: role, source: literal,
          fenceLine: block.lines.lowerBound, endLine: block.lines.upperBound))
    }
    if checkingReferences { try checkReferences(cells, file: path) }
    self.init(path: path, document: document, cells: cells)
    title = document.title
    self.lineEnding = lineEnding
  }
}

/// The 1-based line of the first `\r` not followed by `\n`, or `nil` when there is none.
private func loneCarriageReturnLine(_ text: String) -> Int? {
  var line = 1
  var previousWasReturn = false
  for byte in text.utf8 {
    if previousWasReturn && byte != UInt8(ascii: "\n") { return line }
    if byte == UInt8(ascii: "\n") { line += 1 }
    previousWasReturn = byte == UInt8(ascii: "\r")
  }
  return previousWasReturn ? line : nil
}

/// The language and role of a cell from its info string, e.g. `swift exercise id=fit points=2`.
func cellRole(info: String, file: String, line: Int) throws -> (String, CellRole) {
  let words = info.split(whereSeparator: \.isWhitespace).map(String.init)
  let language = words.first ?? ""
  let attributes = Array(words.dropFirst())
  func fail(_ message: String) -> LessonError { LessonError(file: file, line: line, message) }

  switch language {
  case "output":
    guard attributes.isEmpty else {
      throw fail(
        "an output block takes no attributes, found '\(attributes.joined(separator: " "))'")
    }
    return (language, .output)
  case "hint":
    let target =
      attributes.count == 1 && attributes[0].hasPrefix("for=") ? attributes[0].dropFirst(4) : ""
    guard !target.isEmpty else {
      throw fail("a hint block takes one attribute, for=EXERCISE")
    }
    return (language, .hint(exercise: String(target)))
  case "swift":
    break
  default:
    return (language, .other)
  }

  var flags: [String] = []
  var values: [String: String] = [:]
  for attribute in attributes {
    if let equals = attribute.firstIndex(of: "=") {
      let key = String(attribute[..<equals])
      let value = String(attribute[attribute.index(after: equals)...])
      guard ["id", "points", "for"].contains(key) else {
        throw fail("unknown cell attribute '\(key)'; known: id=, points=, for=")
      }
      guard !value.isEmpty else { throw fail("attribute '\(key)=' needs a value") }
      guard values[key] == nil else { throw fail("attribute '\(key)' is given twice") }
      values[key] = value
    } else {
      guard ["hidden", "no_run", "exercise", "solution", "check"].contains(attribute) else {
        throw fail(
          "unknown cell attribute '\(attribute)'; known: hidden, no_run, exercise, solution, check")
      }
      guard !flags.contains(attribute) else {
        throw fail("attribute '\(attribute)' is given twice")
      }
      flags.append(attribute)
    }
  }

  let kinds = flags.filter { ["exercise", "solution", "check", "no_run"].contains($0) }
  guard kinds.count <= 1 else {
    throw fail("a cell can be only one of \(kinds.joined(separator: ", "))")
  }
  func allow(_ keys: Set<String>, hidden: Bool) throws {
    if let extra = values.keys.sorted().first(where: { !keys.contains($0) }) {
      throw fail("attribute '\(extra)=' does not apply to this cell")
    }
    if !hidden && flags.contains("hidden") { throw fail("'hidden' does not apply to this cell") }
  }
  switch kinds.first {
  case "exercise":
    try allow(["id", "points"], hidden: false)
    guard let id = values["id"] else { throw fail("an exercise needs id=NAME") }
    let points =
      try values["points"].map { text in
        guard let points = Int(text), points >= 0 else {
          throw fail("points=\(text) is not a whole number of points")
        }
        return points
      } ?? 1
    return (language, .exercise(id: id, points: points))
  case "solution":
    try allow(["for"], hidden: false)
    guard let id = values["for"] else { throw fail("a solution needs for=EXERCISE") }
    return (language, .solution(exercise: id))
  case "check":
    try allow(["for"], hidden: true)
    guard let id = values["for"] else { throw fail("a check needs for=EXERCISE") }
    return (language, .check(exercise: id, hidden: flags.contains("hidden")))
  case "no_run":
    try allow([], hidden: false)
    return (language, .noRun)
  default:
    try allow([], hidden: true)
    return (language, flags.contains("hidden") ? .hidden : .code)
  }
}

/// Exercise ids must be unique, and every `for=` must name one.
private func checkReferences(_ cells: [Cell], file: String) throws {
  var exercises: [String: Int] = [:]
  for cell in cells {
    if case .exercise(let id, _) = cell.role {
      if let first = exercises[id] {
        throw LessonError(
          file: file, line: cell.fenceLine, "exercise id '\(id)' is already used at line \(first)")
      }
      exercises[id] = cell.fenceLine
    }
  }
  var solutions: Set<String> = []
  for cell in cells {
    let target: String
    switch cell.role {
    case .solution(let id):
      guard solutions.insert(id).inserted else {
        throw LessonError(
          file: file, line: cell.fenceLine, "exercise '\(id)' has a second solution")
      }
      target = id
    case .check(let id, _), .hint(let id): target = id
    default: continue
    }
    guard exercises[target] != nil else {
      let known = exercises.keys.sorted()
      throw LessonError(
        file: file, line: cell.fenceLine,
        "for=\(target) names no exercise"
          + (known.isEmpty
            ? "; the lesson has none" : "; exercises: \(known.joined(separator: ", "))"))
    }
  }
}

/// The byte offset of the first byte that breaks UTF-8 decoding.
private func firstInvalidUTF8Offset(_ data: Data) -> Int {
  var parser = Unicode.UTF8.ForwardParser()
  var bytes = data.makeIterator()
  var offset = 0
  while true {
    switch parser.parseScalar(from: &bytes) {
    case .valid(let scalar): offset += scalar.count
    case .error: return offset
    case .emptyInput: return offset
    }
  }
}
