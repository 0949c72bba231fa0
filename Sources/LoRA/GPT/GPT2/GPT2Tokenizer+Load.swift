import Foundation

extension GPT2Tokenizer {
  /// The tokenizer of a model folder: `tokenizer.json` when there is one, else `vocab.json`
  /// and `merges.txt`, as `AutoTokenizer.from_pretrained` finds them.
  public static func load(from folder: URL) throws -> GPT2Tokenizer {
    let single = folder.appendingPathComponent("tokenizer.json")
    if FileManager.default.fileExists(atPath: single.path) {
      return try GPT2Tokenizer(tokenizerFile: single)
    }
    return try GPT2Tokenizer(
      vocabFile: folder.appendingPathComponent("vocab.json"),
      mergesFile: folder.appendingPathComponent("merges.txt"))
  }

  /// Reads OpenAI's pair of files: `vocab.json` (token to id) and `merges.txt` (one merge
  /// per line, highest priority first, after a `#version` line). `<|endoftext|>` is special
  /// when the vocabulary has it, as in `GPT2Tokenizer`.
  public init(vocabFile: URL, mergesFile: URL) throws {
    let vocabulary = try readVocabulary(vocabFile)
    guard let data = FileManager.default.contents(atPath: mergesFile.path),
      let text = String(data: data, encoding: .utf8)
    else {
      throw GPT2FileError(path: mergesFile.path, reason: "cannot be read as UTF-8 text")
    }
    var merges: [(String, String)] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let trimmed = line.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
      if trimmed.isEmpty || (number == 0 && trimmed.hasPrefix("#version")) { continue }
      let parts = trimmed.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw GPT2FileError(
          path: "\(mergesFile.path):\(number + 1)",
          reason:
            "is not a merge of two tokens separated by one space: \(String(reflecting: trimmed))")
      }
      merges.append((String(parts[0]), String(parts[1])))
    }
    self.init(vocabulary: vocabulary, merges: merges, specialTokens: ["<|endoftext|>"])
  }

  /// Reads a Hugging Face `tokenizer.json` whose model is byte-level BPE, as GPT-2's is:
  /// its vocabulary, merges (as `"a b"` strings or `["a", "b"]` pairs), special added
  /// tokens and `add_prefix_space`. Another model or pre-tokenizer is refused by name.
  public init(tokenizerFile url: URL) throws {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw GPT2FileError(path: url.path, reason: "cannot be read")
    }
    try self.init(tokenizerJSON: data, path: url.path)
  }

  /// Reads the contents of a `tokenizer.json`; `path` names it in errors.
  init(tokenizerJSON data: Data, path: String) throws {
    func fail(_ reason: String) -> GPT2FileError { GPT2FileError(path: path, reason: reason) }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("is not a JSON object")
    }
    guard let model = root["model"] as? [String: Any] else { throw fail("has no model") }
    guard model["type"] as? String == "BPE" else {
      throw fail("has a \(model["type"] ?? "untyped") model; GPT2Tokenizer reads byte-level BPE")
    }
    guard let vocabulary = model["vocab"] as? [String: Int] else {
      throw fail("has no model.vocab of token to id")
    }
    guard let rawMerges = model["merges"] as? [Any] else { throw fail("has no model.merges") }
    var merges: [(String, String)] = []
    for (index, merge) in rawMerges.enumerated() {
      if let text = merge as? String {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw fail("has merge \(index), \(String(reflecting: text)), not two tokens")
        }
        merges.append((String(parts[0]), String(parts[1])))
      } else if let pair = merge as? [String], pair.count == 2 {
        merges.append((pair[0], pair[1]))
      } else {
        throw fail("has merge \(index) that is neither \"a b\" nor [\"a\", \"b\"]")
      }
    }
    let byteLevel = byteLevelSettings(root["pre_tokenizer"])
    guard let byteLevel else {
      throw fail("has no ByteLevel pre-tokenizer; GPT2Tokenizer reads GPT-2's byte-level BPE")
    }
    let special = (root["added_tokens"] as? [[String: Any]] ?? []).filter {
      $0["special"] as? Bool == true
    }.compactMap { $0["content"] as? String }
    var withSpecial = vocabulary
    for token in root["added_tokens"] as? [[String: Any]] ?? [] {
      if let content = token["content"] as? String, let id = token["id"] as? Int {
        withSpecial[content] = id
      }
    }
    self.init(
      vocabulary: withSpecial, merges: merges, specialTokens: special,
      addPrefixSpace: byteLevel.addPrefixSpace)
  }
}

/// The ByteLevel pre-tokenizer's settings, alone or inside a Sequence; `nil` without one.
private func byteLevelSettings(_ value: Any?) -> (addPrefixSpace: Bool, found: Bool)? {
  guard let object = value as? [String: Any] else { return nil }
  switch object["type"] as? String {
  case "ByteLevel": return (object["add_prefix_space"] as? Bool ?? false, true)
  case "Sequence":
    for item in object["pretokenizers"] as? [Any] ?? [] {
      if let found = byteLevelSettings(item) { return found }
    }
    return nil
  default: return nil
  }
}

/// `vocab.json`: a JSON object of token to id.
private func readVocabulary(_ url: URL) throws -> [String: Int] {
  guard let data = FileManager.default.contents(atPath: url.path) else {
    throw GPT2FileError(path: url.path, reason: "cannot be read")
  }
  guard let vocabulary = try? JSONSerialization.jsonObject(with: data) as? [String: Int] else {
    throw GPT2FileError(path: url.path, reason: "is not a JSON object of token to integer id")
  }
  return vocabulary
}
