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
    // The target, on the whole held-out 10%; nanoGPT's CPU example reaches 1.88.
    #expect(record.validationWindows == split.windows(checkpoint.config.blockSize))
    #expect(loss <= 1.70)
  }

  /// The Russian tutorial's fine-tune, in part: its data, its LoRA (query and value, r 4,
  /// α 8) and optimizer, for 60 of its 200 steps. Lesson 03 runs all 200 and checks what
  /// the model then says; this checks the library's side: the loss falls, the base is
  /// untouched, and merging changes no output.
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
    var losses: [Float] = []
    for _ in 0..<60 {
      let starts = (0..<16).map { _ in Int(generator.next() % UInt64(data.count - length - 1)) }
      let inputs = starts.map { Array(data[$0..<($0 + length)]) }
      let targets = starts.map { Array(data[($0 + 1)..<($0 + length + 1)]) }
      let loss = model.forward(inputs, targets: targets).loss!
      optimizer.zeroGrad()
      loss.backward()
      optimizer.step()
      losses.append(loss.item())
    }
    #expect(losses.last! < losses.first! / 3, "losses: \(losses)")
    let prompt = try tokenizer.encode("KING: ")

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
