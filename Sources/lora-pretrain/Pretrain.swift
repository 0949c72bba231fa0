import ArgumentParser
import Foundation
import LoRA

/// Pretrains the course's models on Tiny Shakespeare, reproducibly: the char-level GPT
/// (the default) and the small GPT-2 of lesson 05.
@main
struct LoRAPretrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lora-pretrain",
    abstract: "Pretrain the course's models on Lessons/data/tinyshakespeare.txt.",
    subcommands: [Pretrain.self, PretrainGPT2.self], defaultSubcommand: Pretrain.self)
}

/// Pretrains the course's base GPT on Tiny Shakespeare, reproducibly, as the Russian char-GPT tutorial's model
/// was pretrained before its LoRA fine-tune.
struct Pretrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "char",
    abstract: "Pretrain Lessons/models/base-gpt on Lessons/data/tinyshakespeare.txt.",
    discussion: """
      The vocabulary is the corpus's sorted characters and the last 10% of the text is held \
      out, as in the seed. Every random draw is seeded, so the same command on the same \
      machine gives the same weights; the settings and losses go into base-gpt.json.
      """)

  @Option(help: "The folder holding data/ and models/.") var lessons = "Lessons"
  @Option(help: "The corpus, relative to that folder.") var corpus = "data/tinyshakespeare.txt"
  @Option var seed: UInt64 = 2024
  @Option var steps = 1700
  @Option var batchSize = 16
  @Option var blockSize = 256
  @Option var nEmbd = 128
  @Option var nHead = 4
  @Option var nLayer = 4
  @Option(help: "The peak learning rate of the cosine schedule.") var learningRate: Float = 2e-3
  @Option(help: "Evaluate on the whole held-out split every this many steps.") var evalEvery = 425
  @Option(help: "Where to write the model (default: the course's base model).") var output: String?

  func run() throws {
    let root = URL(fileURLWithPath: lessons)
    let corpusURL = root.appendingPathComponent(corpus)
    let modelURL =
      output.map { URL(fileURLWithPath: $0) }
      ?? root.appendingPathComponent("models/base-gpt.safetensors")
    try FileManager.default.createDirectory(
      at: modelURL.deletingLastPathComponent(), withIntermediateDirectories: true)

    let text = try String(contentsOf: corpusURL, encoding: .utf8)
    let tokenizer = CharTokenizer(corpus: text)
    let tokens = try tokenizer.encode(text)
    let split = HeldOutSplit(tokens: tokens)
    say(
      "corpus: \(text.count) characters, \(tokenizer.count) distinct; "
        + "\(split.training.count) training and \(split.validation.count) held-out")

    let config = GPTConfig(
      vocabSize: tokenizer.count, blockSize: blockSize, nEmbd: nEmbd, nHead: nHead,
      nLayer: nLayer, dropout: 0)
    Random.seed(seed)
    let model = GPT(config)
    say(parameterReport(model).description)
    let loop = TrainingLoop(
      steps: steps, batchSize: batchSize, length: blockSize, learningRate: learningRate,
      seed: seed, reportEvery: 50)
    let (trainLoss, seconds) = loop.run(model.parameters, on: split.training) {
      model.forward($0, targets: $1).loss!
    } extraReport: { step in
      guard step > 0 && step % evalEvery == 0 else { return nil }
      let validation = model.validationLoss(split.validation, windows: split.windows(blockSize))
      return ", validation loss \(String(format: "%.4f", validation))"
    }
    let record = TrainingRecord(
      command: "swift run -c release lora-pretrain", seed: seed,
      corpus: "../" + corpus, validationCharacters: split.validation.count, steps: steps,
      batchSize: batchSize, learningRate: learningRate,
      trainLoss: trainLoss,
      validationLoss: model.validationLoss(split.validation, windows: split.windows(blockSize)),
      validationWindows: split.windows(blockSize), seconds: seconds.rounded())
    try model.save(
      to: modelURL,
      checkpoint: GPTCheckpoint(config: config, tokenizer: tokenizer, training: record))
    say(
      "wrote \(modelURL.path): validation loss \(record.validationLoss) over "
        + "\(record.validationWindows) windows, \(Int(seconds)) s of training")
    say(
      "sample: "
        + tokenizer.decode(
          model.generate(context: try tokenizer.encode("KING: "), maxNewTokens: 200, seed: seed)))
  }
}
