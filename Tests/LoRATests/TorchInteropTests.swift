import Foundation
import Testing

@testable import LoRA

/// The fixtures `Scripts/make-torch-fixtures.py` wrote with real PyTorch 2.13 and PEFT 0.21.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/torch")

/// `expected.json` beside the seed-000 model: its config, input tokens and logits.
struct SeedFixture: Decodable {
  struct Config: Decodable {
    let vocabSize, blockSize, nEmbd, nHead, nLayer: Int
    enum CodingKeys: String, CodingKey {
      case vocabSize = "vocab_size", blockSize = "block_size", nEmbd = "n_embd"
      case nHead = "n_head", nLayer = "n_layer"
    }
  }
  let config: Config
  let tokens: [[Int]]
  let logits: [Float]

  static let shared: SeedFixture = try! JSONDecoder().decode(
    SeedFixture.self,
    from: Data(contentsOf: fixtures.appendingPathComponent("seed000/expected.json")))

  var gptConfig: GPTConfig {
    GPTConfig(
      vocabSize: config.vocabSize, blockSize: config.blockSize, nEmbd: config.nEmbd,
      nHead: config.nHead, nLayer: config.nLayer)
  }
}

/// The seed-000 model PyTorch saved, loaded strictly, in evaluation mode.
func seedModel() throws -> GPT {
  let model = GPT(SeedFixture.shared.gptConfig)
  try model.loadWeights(from: fixtures.appendingPathComponent("seed000/model.safetensors"))
  model.eval()
  return model
}

private func logits(_ model: GPT) -> [Float] {
  withNoGrad { model.forward(SeedFixture.shared.tokens).logits.scalars }
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) logits against \(b.count)")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// `expected.json` of a PEFT-written adapter: its logits, or the field Swift must refuse.
private struct AdapterFixture: Decodable {
  let logits: [Float]
  let refusedField: String?
}

@Suite("PyTorch and PEFT files, both ways")
struct TorchInteropTests {
  @Test func seedStateDictLoadsStrictlyAndGivesPyTorchLogits() throws {
    let model = try seedModel()
    let difference = maxDifference(logits(model), SeedFixture.shared.logits)
    print("seed000 state_dict: max |Swift - PyTorch| = \(difference)")
    #expect(difference <= 1e-5, "max |Swift - PyTorch| = \(difference)")
  }

  @Test func savedWeightsHaveExactlyPyTorchKeysAndShapes() throws {
    let torch = try Safetensors(
      contentsOf: fixtures.appendingPathComponent("seed000/model.safetensors"))
    let ours = Dictionary(
      uniqueKeysWithValues: try seedModel().stateDict.map { ($0.name, $0.tensor.shape) })
    #expect(ours == torch.tensors.mapValues(\.shape))
    for key in [
      "token_embedding_table.weight", "position_embedding_table.weight",
      "blocks.1.sa.heads.2.value.weight", "blocks.0.sa.heads.0.tril", "blocks.0.sa.proj.bias",
      "blocks.1.ffwd.net.0.weight", "blocks.1.ffwd.net.2.bias", "blocks.0.ln1.weight",
      "blocks.1.ln2.bias", "ln_f.weight", "lm_head.weight", "lm_head.bias",
    ] {
      #expect(ours[key] != nil, "\(key)")
    }
  }

  @Test func nonStrictLoadingReportsMissingAndUnexpectedKeys() throws {
    var tensors = try Safetensors(
      contentsOf: fixtures.appendingPathComponent("seed000/model.safetensors")
    ).tensors
    tensors["lm_head.bias"] = nil
    tensors["blocks.0.sa.heads.0.tril"] = nil
    tensors["classifier.weight"] = Tensor.zeros([2, 24])
    let model = GPT(SeedFixture.shared.gptConfig)
    let report = try model.loadWeights(tensors, strict: false)
    #expect(report.missingKeys == ["lm_head.bias"])
    #expect(report.absentBuffers == ["blocks.0.sa.heads.0.tril"])
    #expect(report.unexpectedKeys == ["classifier.weight"])
    #expect(model.tokenEmbedding.weight.scalars == tensors["token_embedding_table.weight"]!.scalars)

    #expect(
      throws: ModuleError.keyMismatch(missing: ["lm_head.bias"], unexpected: ["classifier.weight"])
    ) { try GPT(SeedFixture.shared.gptConfig).loadWeights(tensors) }
  }

  /// nanoGPT-style code often registers the mask with `persistent=False`; its `state_dict()`
  /// then has every key but the masks, and PyTorch's strict load accepts that file.
  @Test func aCheckpointWithoutItsCausalMasksLoadsStrictly() throws {
    let tensors = try Safetensors(
      contentsOf: fixtures.appendingPathComponent("seed000/model.safetensors")
    ).tensors.filter { !$0.key.hasSuffix(".tril") }
    let model = GPT(SeedFixture.shared.gptConfig)
    let report = try model.loadWeights(tensors)
    #expect(report.missingKeys.isEmpty && report.unexpectedKeys.isEmpty)
    #expect(report.absentBuffers.count == model.namedBuffers.count && !report.absentBuffers.isEmpty)
    #expect(
      report.description.contains(
        "absent constant buffers (computed): [\"blocks.0.sa.heads.0.tril\""))
    #expect(maxDifference(logits(model), SeedFixture.shared.logits) <= 1e-5)
  }

  @Test func aCausalMaskThatIsNotOneIsRefused() throws {
    var tensors = try Safetensors(
      contentsOf: fixtures.appendingPathComponent("seed000/model.safetensors")
    ).tensors
    tensors["blocks.1.sa.heads.1.tril"] = Tensor.ones([16, 16])
    #expect(throws: ModuleError.bufferMismatch("blocks.1.sa.heads.1.tril")) {
      try GPT(SeedFixture.shared.gptConfig).loadWeights(tensors)
    }
  }

  @Test(
    "every adapter PEFT wrote gives PEFT's logits, or is refused naming its field",
    arguments: [
      "basic", "patterns", "rslora", "layers", "modules-to-save", "regex", "all-linear",
      "fan-in-fan-out", "dora", "dora-rslora", "bias-all",
    ])
  func peftAdapter(_ name: String) throws {
    let folder = fixtures.appendingPathComponent("adapters/\(name)")
    let expected = try JSONDecoder().decode(
      AdapterFixture.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
    let model = try seedModel()
    if let field = expected.refusedField {
      let error = try #require(throws: AdapterConfigError.self) {
        try model.loadAdapter(from: folder)
      }
      #expect(error.field == field)
      #expect(error.description.contains(field))
      #expect(model.loraLayers.isEmpty, "a refused adapter leaves the model as it was")
      return
    }
    try model.loadAdapter(from: folder)
    model.eval()
    let difference = maxDifference(logits(model), expected.logits)
    print("adapters/\(name): max |Swift - PEFT| = \(difference)")
    #expect(difference <= 1e-5, "\(name): max |Swift - PEFT| = \(difference)")
  }

  @Test func twoAdaptersSavedTogetherLoadTogether() throws {
    let folder = fixtures.appendingPathComponent("adapters/two-adapters")
    let expected = try JSONDecoder().decode(
      [String: [Float]].self, from: Data(contentsOf: folder.appendingPathComponent("expected.json"))
    )
    let model = try seedModel()
    #expect(try model.loadAdapters(from: folder) == ["default", "formal"])
    #expect(model.currentAdapter == "default")
    for adapter in ["default", "formal"] {
      try model.setActiveAdapter(adapter)
      let difference = maxDifference(logits(model), expected[adapter]!)
      print("adapters/two-adapters [\(adapter)]: max |Swift - PEFT| = \(difference)")
      #expect(difference <= 1e-5, "\(adapter): max |Swift - PEFT| = \(difference)")
    }
  }

  @Test func wrappedLayersReadAsPEFTNamesThem() throws {
    let model = try seedModel()
    try applyLoRA(to: model, targets: ["query", "value"], rank: 4, alpha: 8)
    let names = model.namedParameters.map(\.name)
    for name in [
      "blocks.0.sa.heads.0.query.base_layer.weight",
      "blocks.0.sa.heads.0.query.lora_A.default.weight",
      "blocks.0.sa.heads.0.query.lora_B.default.weight", "blocks.0.sa.heads.0.key.weight",
    ] {
      #expect(names.contains(name), "\(name)")
    }
    // Seed 004's debugging checklist, as written for PEFT.
    for (name, parameter) in model.namedParameters {
      #expect(parameter.requiresGrad == name.contains("lora"), "\(name)")
    }
  }
}

// MARK: - Swift-saved adapters, which the fixture script loads into PEFT

/// Adapters Swift writes over the seed-000 base: each case is committed under
/// `Fixtures/torch/swift-saved/`, and `make-torch-fixtures.py --check` loads it into PEFT and
/// compares PEFT's logits with the ones recorded here.
private let swiftSavedCases: [(name: String, build: @Sendable (GPT) throws -> Void)] = [
  ("query-value", { try applyLoRA(to: $0, targets: ["query", "value"], rank: 4, alpha: 8) }),
  (
    "one-ffwd-layer", { try applyLoRA(to: $0, targets: ["blocks.0.ffwd.net.0"], rank: 3, alpha: 6) }
  ),
  (
    "patterns-and-saved-head",
    {
      try applyLoRA(
        to: $0,
        config: AdapterConfig(
          r: 4, loraAlpha: 8, targetModules: .pattern(#".*\.(query|proj)"#),
          rankPattern: [PatternEntry("blocks.1.sa.heads.2.query", 2)],
          alphaPattern: [PatternEntry("proj", 16)], modulesToSave: ["lm_head"]))
    }
  ),
  (
    "dora",
    {
      try applyLoRA(to: $0, targets: ["query", "proj"], rank: 4, alpha: 8, useDoRA: true)
    }
  ),
  (
    "rslora-two-adapters",
    {
      try applyLoRA(to: $0, targets: ["key"], rank: 4, alpha: 8, useRSLoRA: true)
      try applyLoRA(to: $0, targets: ["net.2"], rank: 2, alpha: 2, adapterName: "formal")
    }
  ),
]

@Suite("Adapters saved here, for PEFT")
struct SwiftSavedAdapterTests {
  /// Regenerates the committed folders when set (`LORA_UPDATE_FIXTURES=1 swift test ...`).
  static let update = ProcessInfo.processInfo.environment["LORA_UPDATE_FIXTURES"] == "1"

  @Test(arguments: swiftSavedCases.map(\.name))
  func savedAdapterIsCurrentAndReloads(_ name: String) throws {
    let model = try seedModel()
    try Random.withSeed(11) { try swiftSavedCases.first { $0.name == name }!.build(model) }
    var generator = RandomGenerator(seed: 5)
    for (_, layer) in model.loraLayers {
      for adapter in layer.adapters {
        adapter.loraB.scalars = Tensor.randn(adapter.loraB.shape, using: &generator).scalars
          .map { $0 * 0.2 }
        adapter.magnitude?.scalars = adapter.magnitude!.scalars.map { $0 * 1.2 }
      }
    }
    if let head = model.modulesWithCopies.first {
      for tensor in head.module.parameters {
        tensor.scalars = tensor.scalars.map { $0 + 0.1 }
      }
    }
    var expected: [String: [Float]] = [:]
    for adapter in model.adapterNames {
      try model.setActiveAdapter(adapter)
      expected[adapter] = logits(model)
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "swift-saved-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try model.saveAdapters(to: folder)

    // Reloaded here, every adapter gives the same logits.
    let fresh = try seedModel()
    #expect(try fresh.loadAdapters(from: folder) == model.adapterNames)
    for adapter in model.adapterNames {
      try fresh.setActiveAdapter(adapter)
      #expect(maxDifference(logits(fresh), expected[adapter]!) <= 1e-6, "\(adapter)")
    }

    // The committed copy, which PEFT was checked against, is what this code writes: the
    // adapter files byte for byte (seeded, no BLAS in them), the logits to float rounding
    // (their last bits depend on the CPU's BLAS kernels).
    let committed = fixtures.appendingPathComponent("swift-saved/\(name)")
    if Self.update {
      try? FileManager.default.removeItem(at: committed)
      try FileManager.default.createDirectory(
        at: committed.deletingLastPathComponent(), withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: folder, to: committed)
      try JSONEncoder().encode(expected).write(
        to: committed.appendingPathComponent("expected.json"))
    }
    for file in try relativeFiles(in: folder) {
      let ours = try Data(contentsOf: folder.appendingPathComponent(file))
      let theirs = try? Data(contentsOf: committed.appendingPathComponent(file))
      #expect(
        ours == theirs,
        """
        \(name)/\(file) differs from the committed fixture; rerun with \
        LORA_UPDATE_FIXTURES=1, then Scripts/make-torch-fixtures.py --check-only
        """)
    }
    let recorded = try JSONDecoder().decode(
      [String: [Float]].self,
      from: Data(contentsOf: committed.appendingPathComponent("expected.json")))
    #expect(recorded.keys.sorted() == expected.keys.sorted())
    for (adapter, values) in expected {
      #expect(maxDifference(values, recorded[adapter] ?? []) <= 1e-5, "\(adapter)")
    }
  }

  /// The course's base model's logits for a line of Shakespeare, which the fixture script
  /// compares with PyTorch's after loading `base-gpt.safetensors` into seed 000's class.
  @Test func baseModelLogitsForPyTorchAreCurrent() throws {
    let (model, checkpoint) = try GPT.load(contentsOf: BaseModelTests.modelURL)
    model.eval()
    let tokens = try checkpoint.tokenizer.encode("KING RICHARD III:\nNow is the winter")
    let logits = withNoGrad { model.forward([tokens]).logits.scalars }
    struct Recorded: Codable {
      let tokens: [Int]
      let logits: [Float]
    }
    let file = fixtures.appendingPathComponent("swift-saved/base-gpt-logits.json")
    if Self.update {
      try JSONEncoder().encode(Recorded(tokens: tokens, logits: logits)).write(to: file)
    }
    let recorded = try JSONDecoder().decode(Recorded.self, from: Data(contentsOf: file))
    #expect(recorded.tokens == tokens)
    #expect(maxDifference(logits, recorded.logits) <= 1e-5)
  }

  @Test func anAdapterOnOneNumberedLayerIsSavedByItsFullName() throws {
    let model = try seedModel()
    try applyLoRA(to: model, targets: ["blocks.0.ffwd.net.0"], rank: 2, alpha: 4)
    let config = try model.adapterConfig(for: "default")
    #expect(config.targetModules == .names(["blocks.0.ffwd.net.0"]))
    #expect(try config.selectModules(in: try seedModel()).map(\.name) == ["blocks.0.ffwd.net.0"])
  }
}

private func relativeFiles(in folder: URL) throws -> [String] {
  let enumerator = FileManager.default.enumerator(atPath: folder.path)!
  return enumerator.compactMap { $0 as? String }.filter { path in
    var isDirectory: ObjCBool = false
    FileManager.default.fileExists(
      atPath: folder.appendingPathComponent(path).path, isDirectory: &isDirectory)
    return !isDirectory.boolValue
  }.sorted()
}

// MARK: - What the config refuses or rejects

@Suite("adapter_config.json, field by field")
struct AdapterConfigTests {
  private func config(_ fields: String) throws -> AdapterConfig {
    try AdapterConfig(
      json: JSONValue(parsing: Data("{\(fields)}".utf8)), path: "adapter_config.json")
  }

  @Test func patternsKeepTheirFileOrder() throws {
    let parsed = try config(
      #""target_modules": ["query"], "rank_pattern": {"z": 2, "a": 3, "m": 4}"#)
    #expect(parsed.rankPattern.map(\.key) == ["z", "a", "m"])
  }

  @Test(
    arguments: [
      (#""bias": "lora_only""#, "bias"),
      (#""init_lora_weights": "eva""#, "init_lora_weights"),
      (#""loftq_config": {"loftq_bits": 4}"#, "loftq_config"),
      (#""layer_replication": [[0, 1]]"#, "layer_replication"),
      (#""use_qalora": true"#, "use_qalora"), (#""lora_bias": true"#, "lora_bias"),
      (#""target_parameters": ["experts.weight"]"#, "target_parameters"),
      (#""peft_type": "IA3""#, "peft_type"), (#""r": "eight""#, "r"), (#""r": 0"#, "r"),
      (#""made_up_field": 3"#, "made_up_field"), (#""rank_pattern": {"(": 2}"#, "rank_pattern"),
      (#""lora_alpha": [1]"#, "lora_alpha"),
    ])
  func refusedFieldsNameThemselves(_ field: String, _ name: String) throws {
    let error = try #require(throws: AdapterConfigError.self) {
      try config(#""target_modules": ["query"], "# + field)
    }
    #expect(error.field == name)
    #expect(error.description.hasPrefix("adapter_config.json: field \"\(name)\""))
  }

  @Test func newerFieldsAtTheirDefaultsAreAccepted() throws {
    _ = try config(#""target_modules": ["query"], "some_future_config": null, "use_future": false"#)
  }

  @Test(
    arguments: [
      (#""target_modules": ".*\\.nothing""#, "target_modules"),
      (#""target_modules": ["query"], "exclude_modules": ["nothing"]"#, "exclude_modules"),
      (#""target_modules": ["query"], "exclude_modules": "nothing.*""#, "exclude_modules"),
      (#""target_modules": ["query"], "rank_pattern": {"value": 2}"#, "rank_pattern"),
      (#""target_modules": ["query"], "alpha_pattern": {"nothing": 2}"#, "alpha_pattern"),
      (#""target_modules": ["query"], "layers_to_transform": [7]"#, "layers_to_transform"),
      (#""target_modules": ["query"], "modules_to_save": ["classifier"]"#, "modules_to_save"),
    ])
  func selectorsThatMatchNothingAreErrors(_ fields: String, _ field: String) throws {
    let model = GPT(SeedFixture.shared.gptConfig)
    let parsed = try config(fields)
    let error = try #require(throws: ModuleError.self) { try applyLoRA(to: model, config: parsed) }
    guard case .selectorMatchesNothing(let named, _, _) = error else {
      Issue.record("expected selectorMatchesNothing, got \(error)")
      return
    }
    #expect(named == field)
    #expect(model.loraLayers.isEmpty)
  }

  @Test func aListTargetThatMatchesNothingIsAnError() throws {
    let model = GPT(SeedFixture.shared.gptConfig)
    let parsed = try config(#""target_modules": ["query", "c_attn"]"#)
    #expect(throws: ModuleError.self) { try applyLoRA(to: model, config: parsed) }
  }

  @Test func aTargetThatIsNotLinearIsNamed() throws {
    let parsed = try config(#""target_modules": ["ln_f"]"#)
    #expect(throws: ModuleError.unsupportedTarget("ln_f", type: "LayerNorm")) {
      try applyLoRA(to: GPT(SeedFixture.shared.gptConfig), config: parsed)
    }
  }
}
