import Foundation
import Testing

@testable import LoRA

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures")

/// The three cases `Scripts/make-lora-family-fixtures.py` wrote with PEFT 0.21: its config,
/// and the model it was made over.
private enum Case: String, CaseIterable {
  case pissaChar = "pissa-char", oloraChar = "olora-char", pissaGPT2 = "pissa-gpt2"

  var config: AdapterConfig {
    switch self {
    case .pissaChar:
      return AdapterConfig(
        r: 4, loraAlpha: 8, initLoRAWeights: .pissa,
        targetModules: .names(["query", "value", "proj"]))
    case .oloraChar:
      return AdapterConfig(
        r: 4, loraAlpha: 8, initLoRAWeights: .olora, targetModules: .names(["key", "net.0"]))
    case .pissaGPT2:
      return AdapterConfig(
        r: 4, loraAlpha: 8, initLoRAWeights: .pissa, targetModules: .names(["c_attn", "c_proj"]))
    }
  }

  /// The base model, and its logits on the fixture's tokens.
  func model() throws -> (Module, ([[Int]]) -> [Float]) {
    if self == .pissaGPT2 {
      let model = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
      model.eval()
      return (model, { tokens in withNoGrad { model.forward(tokens).logits.scalars } })
    }
    let model = try seedModel()
    return (model, { tokens in withNoGrad { model.forward(tokens).logits.scalars } })
  }
}

/// PiSSA and OLoRA as PEFT's `pissa_init` and `olora_init` compute them.
@Suite("PiSSA and OLoRA, against PEFT")
struct FactoredInitTests {
  /// A and B start from the base weight's factors, and the base keeps the residual. A
  /// singular vector's sign is LAPACK's choice: PiSSA's A row and B column may both be
  /// negated (B·A is the same); OLoRA's QR signs follow LAPACK's convention, as torch's do.
  @Test(arguments: Case.allCases)
  fileprivate func initialisationIsPEFTs(_ fixture: Case) throws {
    let initial = try Safetensors(
      contentsOf: fixtures.appendingPathComponent(
        "lora-family/\(fixture.rawValue)/initial.safetensors")
    ).tensors
    let (model, logits) = try fixture.model()
    let tokens = try ExpectedLogits.read(
      fixtures.appendingPathComponent("lora-family/\(fixture.rawValue)")
    ).tokens
    let before = logits(tokens)
    let adapted = try applyLoRA(to: model, config: fixture.config)
    #expect(
      Set(adapted.map { $0 + ".lora_A" }) == Set(initial.keys.filter { $0.hasSuffix(".lora_A") }))
    for (name, layer) in model.loraLayers {
      let (a, b) = (layer.loraA, layer.loraB)
      let (theirA, theirB) = (initial[name + ".lora_A"]!, initial[name + ".lora_B"]!)
      for row in 0..<a.shape[0] {
        let ours = Array(a.scalars[(row * a.shape[1])..<((row + 1) * a.shape[1])])
        let theirs = Array(theirA.scalars[(row * a.shape[1])..<((row + 1) * a.shape[1])])
        let sign: Float =
          fixture == .oloraChar || zip(ours, theirs).map(*).reduce(0, +) >= 0 ? 1 : -1
        #expect(largestDifference(ours.map { $0 * sign }, theirs) < 1e-4, "\(name) A row \(row)")
        let column = (0..<b.shape[0]).map { b.scalars[$0 * b.shape[1] + row] * sign }
        let theirColumn = (0..<b.shape[0]).map { theirB.scalars[$0 * b.shape[1] + row] }
        #expect(largestDifference(column, theirColumn) < 1e-4, "\(name) B column \(row)")
      }
      let residual = try #require(initial[name + ".residual"])
      #expect(layer.weight.shape == residual.shape)
      #expect(largestDifference(layer.weight.scalars, residual.scalars) < 1e-5, "\(name) residual")
    }
    // Residual + scaling·B·A is the weight it came from: the output does not move.
    #expect(largestDifference(logits(tokens), before) < 1e-4)
  }

  /// Loaded over the original base, the adapter factors it again, as PEFT does, then takes
  /// its A and B from the file: PEFT's logits.
  @Test(arguments: Case.allCases)
  fileprivate func savedAdapterGivesPEFTsLogits(_ fixture: Case) throws {
    let folder = fixtures.appendingPathComponent("lora-family/\(fixture.rawValue)")
    let expected = try ExpectedLogits.read(folder)
    let (model, logits) = try fixture.model()
    try model.loadAdapter(from: folder.appendingPathComponent("adapter"))
    let difference = largestDifference(logits(expected.tokens), expected.logits)
    #expect(difference < 1e-4, "max |Swift - PEFT| = \(difference)")
    // Saved again, the config says how it started, so that PEFT factors the base again too.
    let again = FileManager.default.temporaryDirectory.appendingPathComponent("factored-\(UUID())")
    defer { try? FileManager.default.removeItem(at: again) }
    try model.saveAdapter(to: again)
    let config = try AdapterConfig(contentsOf: again.appendingPathComponent("adapter_config.json"))
    #expect(config.initLoRAWeights == fixture.config.initLoRAWeights)
  }

  @Test func aFourBitBaseAndOLoRAOnConv1DAreRefusedBeforeAnythingChanges() throws {
    let quantized = try GPT2.load(
      from: fixtures.appendingPathComponent("quantized/tiny-nf4-nested"))
    let error = try #require(throws: FactorizationError.self) {
      try applyLoRA(to: quantized, config: Case.pissaGPT2.config)
    }
    #expect(error.description.contains("dequantize() first"), "\(error)")
    #expect(quantized.loraLayers.isEmpty)
    let gpt2 = try GPT2.load(from: fixtures.appendingPathComponent("gpt2/tiny"))
    var olora = Case.pissaGPT2.config
    olora.initLoRAWeights = .olora
    let conv = try #require(throws: FactorizationError.self) {
      try applyLoRA(to: gpt2, config: olora)
    }
    #expect(conv.description.contains("Conv1D"), "\(conv)")
    #expect(gpt2.loraLayers.isEmpty)
  }
}
