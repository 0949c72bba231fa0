import ArgumentParser
import Foundation
import LoRA

/// Pretrains lesson 05's small GPT-2 on Tiny Shakespeare, in Hugging Face's layout, with
/// the byte-level BPE that `Scripts/train-gpt2-tokenizer.py` trained beside it.
struct PretrainGPT2: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gpt2",
    abstract: "Pretrain Lessons/models/gpt2-shakespeare (GPT-2's architecture, a few MB).",
    discussion: """
      Reads the tokenizer in the folder (vocab.json, merges.txt), holds out the last 10% of \
      the tokens, trains with AdamW, warm-up and cosine decay and gradient clipping, and \
      writes config.json and model.safetensors beside the tokenizer, as save_pretrained \
      would, plus training.json with the settings and losses. Seeded: the same command on \
      the same machine gives the same weights.
      """)

  @Option(help: "The folder holding data/ and models/.") var lessons = "Lessons"
  @Option(help: "The corpus, relative to that folder.") var corpus = "data/tinyshakespeare.txt"
  @Option(help: "The model folder, relative to that folder.") var model = "models/gpt2-shakespeare"
  @Option var seed: UInt64 = 2024
  @Option var steps = 2000
  @Option var batchSize = 16
  @Option var nPositions = 128
  @Option var nEmbd = 128
  @Option var nHead = 4
  @Option var nLayer = 4
  @Option(help: "The peak learning rate of the cosine schedule.") var learningRate: Float = 3e-3

  func run() throws {
    let root = URL(fileURLWithPath: lessons)
    let folder = root.appendingPathComponent(model)
    let text = try String(contentsOf: root.appendingPathComponent(corpus), encoding: .utf8)
    let tokenizer = try GPT2Tokenizer.load(from: folder)
    let tokens = tokenizer.encode(text)
    let split = HeldOutSplit(tokens: tokens)
    say(
      "corpus: \(text.count) characters, \(tokens.count) tokens of \(tokenizer.count); "
        + "\(split.training.count) training and \(split.validation.count) held out")
    let config = GPT2Config(
      vocabSize: tokenizer.count, nPositions: nPositions, nEmbd: nEmbd, nLayer: nLayer,
      nHead: nHead)
    Random.seed(seed)
    let network = GPT2(config)
    say(parameterReport(network).description)
    // GPT-2 shifts the labels itself, as transformers' `labels=` does: the inputs are the
    // labels.
    let loop = TrainingLoop(
      steps: steps, batchSize: batchSize, length: nPositions, learningRate: learningRate,
      seed: seed, reportEvery: 100)
    let (trainLoss, seconds) = loop.run(network.parameters, on: split.training) { inputs, _ in
      network.forward(inputs, labels: inputs).loss!
    }
    let validation = heldOutLoss(network, split.validation)
    try network.save(to: folder)
    let record: [String: Any] = [
      "command": "swift run -c release lora-pretrain gpt2", "seed": seed, "steps": steps,
      "batch_size": batchSize, "learning_rate": Double(learningRate),
      "train_loss": Double(trainLoss),
      "validation_loss": Double(validation), "validation_tokens": split.validation.count,
      "seconds": seconds.rounded(),
    ]
    try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
      .write(to: folder.appendingPathComponent("training.json"), options: .atomic)
    say(
      "wrote \(folder.path): validation loss \(validation) nats per token, "
        + "\(Int(seconds)) s of training")
    let prompt = tokenizer.encode("ROMEO:\n")
    say(
      "sample: "
        + tokenizer.decode(
          network.generate(context: prompt, maxNewTokens: 80, temperature: 0.8, seed: seed)))
  }

  /// The mean next-token loss over non-overlapping windows of the held-out tokens.
  private func heldOutLoss(_ network: GPT2, _ tokens: [Int]) -> Float {
    network.eval()
    defer { network.train() }
    let windows = tokens.count / nPositions
    return withNoGrad {
      var total: Double = 0
      for first in stride(from: 0, to: windows, by: 16) {
        let rows = (first..<min(first + 16, windows)).map {
          Array(tokens[($0 * nPositions)..<(($0 + 1) * nPositions)])
        }
        let loss = network.forward(rows, labels: rows).loss!.item()
        total += Double(loss) * Double(rows.count)
      }
      return Float(total / Double(windows))
    }
  }
}
