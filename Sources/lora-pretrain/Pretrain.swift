import ArgumentParser
import Foundation
import LoRA

/// Writes the course's corpus and pretrains its base GPT on it, reproducibly.
@main
struct Pretrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lora-pretrain",
    abstract: "Write Lessons/data/plays.txt and pretrain Lessons/models/base-gpt on it.",
    discussion: "Every random draw is seeded, so the same command gives the same weights.")

  @Option(help: "The folder holding data/ and models/.") var lessons = "Lessons"
  @Option var seed: UInt64 = 2024
  @Option var steps = 2000
  @Option var batchSize = 16
  @Option var learningRate: Float = 1e-3
  @Option(help: "Bytes of generated play text.") var corpusBytes = 250_000
  @Option(help: "Fixed windows of held-out text for the validation loss.") var validationWindows =
    32

  func run() throws {
    let root = URL(fileURLWithPath: lessons)
    let dataURL = root.appendingPathComponent("data/plays.txt")
    let modelURL = root.appendingPathComponent("models/base-gpt.safetensors")
    for folder in [dataURL, modelURL] {
      try FileManager.default.createDirectory(
        at: folder.deletingLastPathComponent(), withIntermediateDirectories: true)
    }

    var corpus = PlayCorpus(seed: seed)
    let text = corpus.text(minimumBytes: corpusBytes)
    try text.write(to: dataURL, atomically: true, encoding: .utf8)
    let tokenizer = CharTokenizer(vocabulary: Array(PlayCorpus.vocabulary))
    let tokens = try tokenizer.encode(text)
    let validationCount = tokens.count / 10
    let training = Array(tokens.dropLast(validationCount))
    let validation = Array(tokens.suffix(validationCount))
    say(
      "corpus: \(text.utf8.count) bytes, \(training.count) training and \(validation.count) held-out tokens"
    )

    let config = GPTConfig(
      vocabSize: tokenizer.count, blockSize: 128, nEmbd: 128, nHead: 4, nLayer: 4, dropout: 0)
    Random.seed(seed)
    let model = GPT(config)
    say(parameterReport(model).description)
    let optimizer = AdamW(model.parameters, learningRate: learningRate)
    let schedule = LearningRateSchedule.cosine(
      peak: learningRate, totalSteps: steps, warmupSteps: steps / 20, minimum: learningRate / 10)
    var generator = RandomGenerator(seed: seed)
    var recentLosses: [Float] = []
    let start = Date()
    for step in 0..<steps {
      let (inputs, targets) = batch(
        from: training, size: batchSize, length: config.blockSize, using: &generator)
      optimizer.learningRate = schedule(step)
      optimizer.zeroGrad()
      let loss = model.forward(inputs, targets: targets).loss!
      loss.backward()
      clipGradNorm(model.parameters, maxNorm: 1)
      optimizer.step()
      recentLosses = Array((recentLosses + [loss.item()]).suffix(50))
      if step % 250 == 0 || step == steps - 1 {
        let validationLoss = model.validationLoss(validation, windows: validationWindows)
        say(
          "step \(step): train loss \(String(format: "%.4f", loss.item())), "
            + "validation loss \(String(format: "%.4f", validationLoss)), "
            + "\(String(format: "%.0f", Date().timeIntervalSince(start))) s")
      }
    }
    let record = TrainingRecord(
      command: "swift run -c release lora-pretrain", seed: seed, corpus: "../data/plays.txt",
      validationCharacters: validationCount, steps: steps, batchSize: batchSize,
      learningRate: learningRate, trainLoss: recentLosses.reduce(0, +) / Float(recentLosses.count),
      validationLoss: model.validationLoss(validation, windows: validationWindows),
      validationWindows: validationWindows)
    try model.save(
      to: modelURL,
      checkpoint: GPTCheckpoint(config: config, tokenizer: tokenizer, training: record))
    say("wrote \(modelURL.path): validation loss \(record.validationLoss)")
    say(
      "sample: "
        + tokenizer.decode(
          model.generate(context: try tokenizer.encode("KING: "), maxNewTokens: 200, seed: seed)))
  }
}

/// `size` random windows of `length + 1` tokens, split into inputs and next-token targets.
func batch(
  from tokens: [Int], size: Int, length: Int, using generator: inout RandomGenerator
) -> (inputs: [[Int]], targets: [[Int]]) {
  let starts = (0..<size).map { _ in Int(generator.next() % UInt64(tokens.count - length - 1)) }
  return (
    starts.map { Array(tokens[$0..<($0 + length)]) },
    starts.map { Array(tokens[($0 + 1)..<($0 + length + 1)]) }
  )
}

/// Prints a line at once, even when standard output is a file or a pipe.
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
