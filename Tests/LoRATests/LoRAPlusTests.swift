import Foundation
import Testing

@testable import LoRA

/// What `Scripts/make-lora-family-fixtures.py` wrote with the real PEFT 0.21.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures")

private struct Expected: Decodable {
  let tokens: [[Int]]
  let losses: [Float]
}

@Suite("LoRA+, against PEFT's create_loraplus_optimizer")
struct LoRAPlusTests {
  @Test func threeStepsMatchPEFT() throws {
    let folder = fixtures.appendingPathComponent("lora-family/loraplus")
    let expected = try JSONDecoder().decode(
      Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
    let model = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    try model.loadAdapter(from: folder.appendingPathComponent("initial"))
    let optimizer = loraPlusOptimizer(for: model, learningRate: 1e-3, weightDecay: 0.01)
    // PEFT's groups: A at the rate; B at 16 times it; ln_f's copy (1-D, in a LayerNorm) at
    // 16 times it without weight decay.
    #expect(optimizer.groups.map(\.parameters.count) == [2, 2, 2])
    #expect(optimizer.groups.map(\.learningRateFactor) == [1, 16, 16])
    #expect(optimizer.groups.map(\.weightDecay) == [0.01, 0.01, 0])
    model.eval()
    var losses: [Float] = []
    for _ in 0..<3 {
      let loss = model.forward(expected.tokens, labels: expected.tokens).loss!
      optimizer.zeroGrad()
      loss.backward()
      optimizer.step()
      losses.append(loss.item())
    }
    for (ours, theirs) in zip(losses, expected.losses) {
      #expect(abs(ours - theirs) < 1e-5, "losses \(losses) against \(expected.losses)")
    }
    let trained = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    try trained.loadAdapter(from: folder.appendingPathComponent("trained"))
    let theirs = Dictionary(
      uniqueKeysWithValues: trained.namedParameters.map { ($0.name, $0.parameter) })
    for (name, parameter) in model.namedParameters where parameter.requiresGrad {
      let other = try #require(theirs[name], "\(name)")
      let difference = zip(parameter.scalars, other.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(difference < 2e-5, "\(name): \(difference)")
    }
  }
}
