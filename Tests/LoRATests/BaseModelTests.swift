import Foundation
import Testing

@testable import LoRA

/// The committed base model, and the fine-tuning experiment of the course's first source
/// tutorial, run end to end.
@Suite("The base model and the AI ROBOT fine-tune")
struct BaseModelTests {
  static let lessons = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Lessons")
  static let modelURL = lessons.appendingPathComponent("models/base-gpt.safetensors")

  @Test func validationLossMatchesWhatPretrainingRecorded() throws {
    let (model, checkpoint) = try GPT.load(contentsOf: Self.modelURL)
    let record = try #require(checkpoint.training)
    let text = try String(
      contentsOf: Self.lessons.appendingPathComponent("models").appendingPathComponent(
        record.corpus),
      encoding: .utf8)
    let tokens = try checkpoint.tokenizer.encode(text)
    let split = HeldOutSplit(tokens: tokens)
    #expect(split.validation.count == record.validationCharacters)
    #expect(checkpoint.tokenizer.count == 65, "the corpus's 65 characters, as in the seed")
    let loss = model.validationLoss(split.validation, windows: record.validationWindows)
    #expect(abs(loss - record.validationLoss) < 1e-3)
    // The issue's target, on the whole held-out 10%; nanoGPT's CPU example reaches 1.88.
    #expect(record.validationWindows == split.windows(checkpoint.config.blockSize))
    #expect(loss <= 1.70)
  }

  @Test func theAIRobotFineTune() throws {
    let (model, checkpoint) = try GPT.load(contentsOf: Self.modelURL)
    let tokenizer = checkpoint.tokenizer
    let phrase =
      "AI ROBOT: To be or not to be a machine, that is the computation! Machines will rule the code.\n"
    let data = try tokenizer.encode(String(repeating: phrase, count: 50))
    let baseWeights = model.namedParameters.map { ($0.name, $0.parameter, $0.parameter.scalars) }

    // A generator of the test's own, so tests running beside it cannot change its draws.
    let replaced = try Random.withSeed(0) {
      try applyLoRA(to: model, targets: ["query", "value"], rank: 4, alpha: 8)
    }
    #expect(replaced.count == 2 * checkpoint.config.nHead * checkpoint.config.nLayer)
    let optimizer = AdamW(model.parameters, learningRate: 1e-3)
    var generator = RandomGenerator(seed: 1)
    let length = checkpoint.config.blockSize
    var losses: [Int: Float] = [:]
    for step in 0..<200 {
      let starts = (0..<16).map { _ in Int(generator.next() % UInt64(data.count - length - 1)) }
      let inputs = starts.map { Array(data[$0..<($0 + length)]) }
      let targets = starts.map { Array(data[($0 + 1)..<($0 + length + 1)]) }
      let loss = model.forward(inputs, targets: targets).loss!
      optimizer.zeroGrad()
      loss.backward()
      optimizer.step()
      if step % 40 == 0 || step == 199 {
        losses[step] = loss.item()
        print("AI ROBOT fine-tune, step \(step): loss \(String(format: "%.4f", loss.item()))")
      }
    }
    #expect(losses[199]! < losses[0]! / 5, "losses: \(losses.sorted { $0.key < $1.key })")

    // The learned phrase now follows the base model's speaker labels. Sampling at a lower
    // temperature shows the most likely continuations, as a learner would look at them.
    let prompt = try tokenizer.encode("KING: ")
    let samples = (0..<3).map { seed in
      tokenizer.decode(
        model.generate(context: prompt, maxNewTokens: 150, temperature: 0.5, seed: UInt64(seed)))
    }
    print("AI ROBOT fine-tune, samples: \(samples)")
    // A sample depends on the draw (and on the last bits of the arithmetic, which differ
    // between BLAS kernels); the most likely continuation of the learned line does not.
    let cue = try tokenizer.encode("AI ROBOT: To be or not to be a machine, that is the ")
    let completion = tokenizer.decode(
      Array(model.generate(context: cue, maxNewTokens: 26, temperature: 0).dropFirst(cue.count)))
    #expect(completion == "computation! Machines will", "generated: \(completion)")

    // The same tensors, now named query.base_layer.weight where LoRA wraps them.
    for (name, tensor, before) in baseWeights {
      #expect(tensor.scalars == before, "\(name) changed")
    }
    let unmerged = withNoGrad { model.forward([prompt]).logits.scalars }
    model.mergeAdapters()
    let merged = withNoGrad { model.forward([prompt]).logits.scalars }
    #expect(isClose(merged, unmerged, tolerance: 1e-5))
  }
}
