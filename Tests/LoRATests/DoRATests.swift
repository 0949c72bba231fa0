import Foundation
import Testing

@testable import LoRA

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures")

/// DoRA as PEFT 0.21 computes it. The char-level GPT's adapters are in `TorchInteropTests`
/// (`dora`, `dora-rslora`); these are GPT-2's, whose layers are Conv1Ds.
@Suite("DoRA, against PEFT")
struct DoRATests {
  static let folder = fixtures.appendingPathComponent("lora-family/dora-gpt2")

  static func model() throws -> GPT2 {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    try model.loadAdapter(from: folder)
    return model
  }

  @Test func gpt2AdapterGivesPEFTsLogits() throws {
    let model = try Self.model()
    let expected = try ExpectedLogits.read(Self.folder)
    let layer = try #require(model.loraLayers.first?.layer)
    #expect(layer.layout == .inOut && layer.activeAdapter?.useDoRA == true)
    #expect(model.loraLayers.count == 6)  // c_attn and both c_proj of two blocks
    let difference = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(difference < 1e-5, "max |Swift - PEFT| = \(difference)")
  }

  @Test func mergingIsTheAdaptedLayerAndUnmergingRestoresIt() throws {
    let model = try Self.model()
    let expected = try ExpectedLogits.read(Self.folder)
    let weights = model.loraLayers.map { $0.layer.weight.scalars }
    model.mergeAdapters()
    #expect(model.loraLayers.allSatisfy { $0.layer.isMerged })
    let merged = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(merged < 1e-5, "merged: max |Swift - PEFT| = \(merged)")
    model.unmergeAdapters()
    #expect(model.loraLayers.map { $0.layer.weight.scalars } == weights)
  }

  @Test func savedAndLoadedAgainItIsTheSame() throws {
    let model = try Self.model()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dora-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    try model.saveAdapter(to: folder)
    let config = try String(
      contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
    #expect(config.contains("\"use_dora\": true"))
    let again = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    try again.loadAdapter(from: folder)
    let tokens = [[5, 17, 3, 90]]
    #expect(evaluationLogits(of: again, on: tokens) == evaluationLogits(of: model, on: tokens))
  }

  /// The magnitude trains; the norm it is divided by is detached, as in PEFT (and the
  /// paper's §4.3), so the gradient of A, B and m is that of the formula with the norm held
  /// constant: checked against central differences of the loss.
  /// PEFT trains every parameter whose name holds `lora_` (`mark_only_lora_as_trainable`),
  /// DoRA's `lora_magnitude_vector` included; the lesson on DoRA found it frozen here.
  @Test func theMagnitudeTrainsAsPEFTsDoes() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    try applyLoRA(
      to: model,
      config: AdapterConfig(r: 2, loraAlpha: 4, useDoRA: true, targetModules: .names(["c_attn"])))
    let trainable = model.namedParameters.filter(\.parameter.requiresGrad).map(\.name)
    #expect(trainable == model.namedParameters.map(\.name).filter { $0.contains("lora_") })
    #expect(trainable.filter { $0.contains("lora_magnitude_vector") }.count == 2)
    let magnitude = try #require(model.loraLayers.first?.layer.activeAdapter?.magnitude)
    let before = magnitude.scalars
    let optimizer = AdamW(model.trainableParameters, learningRate: 1e-2)
    let tokens = [[1, 2, 3, 4, 5]]
    model.forward(tokens, labels: tokens).loss!.backward()
    optimizer.step()
    #expect(magnitude.scalars != before, "a step moves the magnitude")
  }

  @Test func gradientsFlowToAllThreeAsPEFTComputesThem() throws {
    let layer = try Random.withSeed(3) {
      LoRALinear(base: Linear(6, 5), rank: 2, alpha: 4, useDoRA: true)
    }
    let adapter = try #require(layer.activeAdapter)
    adapter.loraB.scalars = adapter.loraB.scalars.indices.map { Float($0 % 3) * 0.1 - 0.1 }
    adapter.magnitude!.scalars = adapter.magnitude!.scalars.map { $0 * 1.3 }
    let x = Tensor.randn([4, 6])
    let target = Tensor.randn([4, 5])
    func loss() -> Tensor { ((layer(x) - target) * (layer(x) - target)).sum() }
    let value = loss()
    value.backward()
    for parameter in [adapter.loraA, adapter.loraB, adapter.magnitude!] {
      let gradient = try #require(parameter.grad)
      for index in [0, parameter.count - 1] {
        // With the norm held at its current value, as PEFT's detach does.
        let norm = layer.doraWeightNorm(adapter)
        func held() -> Float {
          withNoGrad {
            let scale = adapter.magnitude! / norm
            let lora = (x.linear(weight: adapter.loraA) * adapter.scaling).linear(
              weight: adapter.loraB)
            let base = x.linear(weight: layer.weight)
            let out = base + layer.bias! + (scale - 1) * base + scale * lora
            return ((out - target) * (out - target)).sum().item()
          }
        }
        let step: Float = 1e-2
        let original = parameter.scalars[index]
        parameter.scalars[index] = original + step
        let up = held()
        parameter.scalars[index] = original - step
        let down = held()
        parameter.scalars[index] = original
        let numeric = (up - down) / (2 * step)
        #expect(
          abs(numeric - gradient.scalars[index]) < 2e-2 * max(1, abs(numeric)),
          "\(numeric) against \(gradient.scalars[index])")
      }
    }
  }
}
