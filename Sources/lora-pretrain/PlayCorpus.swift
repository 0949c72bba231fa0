import LoRA

/// Writes speaker-labelled dialogue in the manner of a history play, one speech per line
/// (`KING: ...`), from seeded word lists and sentence patterns. The course's base model
/// learns this style, so that fine-tuning has a recognisable voice to change.
///
/// Every character of `PlayCorpus.vocabulary` appears, so the fine-tuning text of the
/// lessons can be encoded with the base model's tokenizer.
struct PlayCorpus {
  /// Karpathy's 65-character Shakespeare vocabulary, so the model matches the benchmark
  /// configurations.
  static let vocabulary =
    "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

  private var generator: RandomGenerator

  init(seed: UInt64) {
    generator = RandomGenerator(seed: seed)
  }

  /// Speeches until the text reaches `minimumBytes`.
  mutating func text(minimumBytes: Int) -> String {
    // Rare characters first, in words a play might still use, so that the training split
    // sees every character of the vocabulary.
    var text =
      "FOOL: Zounds! By Jove, a quip, a jest, a quiz: 3 jokes & a half-crown for $3, sir; "
      + "exeunt Xerxes.\n\n"
    var scene = 1
    while text.utf8.count < minimumBytes {
      text += "SCENE \(roman(scene)): \(pick(Self.places)).\n"
      let cast = Array(
        Self.speakers.shuffled(using: &generator).prefix(2 + Int(generator.next() % 3)))
      for _ in 0..<(6 + Int(generator.next() % 10)) {
        let speaker = pick(cast)
        text += "\(speaker.name): \(speech(for: speaker))\n"
      }
      text += "\n"
      scene += 1
    }
    return text
  }

  private mutating func speech(for speaker: Speaker) -> String {
    let sentences = 1 + Int(generator.next() % 3)
    return (0..<sentences).map { _ in sentence(for: speaker) }.joined(separator: " ")
  }

  private mutating func sentence(for speaker: Speaker) -> String {
    let noun = pick(speaker.nouns + Self.nouns)
    let other = pick(Self.nouns)
    let adjective = pick(speaker.adjectives + Self.adjectives)
    let verb = pick(Self.verbs)
    let address = pick(Self.addresses)
    switch generator.next() % 9 {
    case 0:
      return
        "\(capitalized(address)), the \(noun) is \(adjective) and the \(other) is \(pick(Self.adjectives))."
    case 1: return "Shall I \(verb) the \(noun) while the \(other) doth \(pick(Self.verbs))?"
    case 2: return "O \(adjective) \(noun), thou hast made me \(pick(Self.adjectives))!"
    case 3:
      return "I will \(verb) my \(noun), \(address), ere the \(other) be \(pick(Self.adjectives))."
    case 4: return "What \(adjective) \(noun) is this, that \(pick(Self.verbs))s upon the \(other)?"
    case 5:
      return
        "Let the \(noun) \(verb); we are \(adjective) men, and \(pick(Self.adjectives)) our \(other)."
    case 6: return "Go, \(address); tell the \(noun) I \(verb) no more."
    case 7:
      return "My \(noun) is \(adjective), my \(other) \(pick(Self.adjectives)); yet I \(verb)."
    default: return "Peace, \(address)! The \(noun) shall not \(verb) tonight."
    }
  }

  private mutating func pick<T>(_ items: [T]) -> T {
    items[Int(generator.next() % UInt64(items.count))]
  }

  private func capitalized(_ text: String) -> String {
    text.prefix(1).uppercased() + text.dropFirst()
  }

  private func roman(_ number: Int) -> String {
    let numerals = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    var remaining = number
    var result = ""
    for (value, numeral) in numerals {
      while remaining >= value {
        result += numeral
        remaining -= value
      }
    }
    return result
  }

  struct Speaker {
    let name: String
    let nouns: [String]
    let adjectives: [String]
  }

  static let speakers = [
    Speaker(
      name: "KING", nouns: ["crown", "throne", "realm", "army"], adjectives: ["royal", "weary"]),
    Speaker(
      name: "QUEEN", nouns: ["son", "court", "jewel", "garden"], adjectives: ["gracious", "proud"]),
    Speaker(
      name: "PRINCE", nouns: ["father", "horse", "quarrel", "youth"],
      adjectives: ["restless", "bold"]),
    Speaker(
      name: "DUKE", nouns: ["lands", "banner", "cousin", "oath"], adjectives: ["loyal", "cunning"]),
    Speaker(
      name: "LADY", nouns: ["letter", "husband", "vow", "chamber"],
      adjectives: ["fair", "troubled"]),
    Speaker(
      name: "FOOL", nouns: ["cap", "jest", "riddle", "supper"], adjectives: ["merry", "foolish"]),
    Speaker(
      name: "GHOST", nouns: ["grave", "murder", "shroud", "vengeance"],
      adjectives: ["pale", "restless"]),
    Speaker(
      name: "HERALD", nouns: ["trumpet", "message", "treaty", "enemy"],
      adjectives: ["urgent", "grave"]),
    Speaker(
      name: "NURSE", nouns: ["child", "cradle", "kitchen", "prayer"], adjectives: ["gentle", "old"]),
    Speaker(
      name: "BISHOP", nouns: ["heaven", "sin", "altar", "soul"], adjectives: ["holy", "solemn"]),
  ]

  static let nouns = [
    "king", "night", "sword", "heart", "tongue", "storm", "rose", "blood", "honour", "world",
    "tears", "fortune", "enemy", "friend", "council", "battle", "morning", "gate", "tower",
    "wine", "gold", "peace", "war", "shadow", "moon", "sea", "field", "name", "word", "hand",
  ]
  static let adjectives = [
    "heavy", "bitter", "gentle", "dark", "sweet", "cold", "noble", "false", "true", "strange",
    "wild", "quiet", "brave", "wretched", "golden", "ancient", "young", "hollow", "sharp",
  ]
  static let verbs = [
    "speak", "weep", "fight", "pray", "sleep", "wait", "ride", "swear", "yield", "kneel",
    "remember", "forgive", "follow", "command", "sing", "dream", "wake", "mourn", "judge",
  ]
  static let addresses = [
    "my lord", "good madam", "sweet prince", "noble cousin", "gentle sir", "my liege",
    "fair lady", "good friend", "brave captain", "kind nurse", "old man", "my son",
  ]
  static let places = [
    "The palace", "A field near the river", "The queen's garden", "A room in the castle",
    "The walls of the city", "A churchyard at night", "The king's camp", "A tavern",
  ]
}
