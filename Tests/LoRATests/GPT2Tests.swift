import Foundation
import Testing

@testable import LoRA

/// The folders `Scripts/make-gpt2-fixtures.py` wrote with real transformers 5.23, PEFT 0.21
/// and safetensors: a tiny GPT2LMHeadModel saved every way a user meets one.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/gpt2")

/// `expected.json`: the input tokens, transformers' logits and its loss with `labels=tokens`,
/// and its loss with labels partly −100, which transformers leaves out (padding).
private struct Expected: Decodable {
  let tokens: [[Int]]
  let logits: [Float]
  let loss: Float
  let paddedLabels: [[Int]]
  let paddedLoss: Float

  enum CodingKeys: String, CodingKey {
    case tokens, logits, loss
    case paddedLabels = "padded_labels"
    case paddedLoss = "padded_loss"
  }

  static func of(_ folder: String) throws -> Expected {
    try JSONDecoder().decode(
      Expected.self,
      from: Data(contentsOf: fixtures.appendingPathComponent("\(folder)/expected.json")))
  }
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) logits against \(b.count)")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// The model's logits and loss on the fixture's tokens, in evaluation mode.
private func run(_ model: GPT2, _ expected: Expected) -> (logits: [Float], loss: Float) {
  model.eval()
  return withNoGrad {
    let (logits, loss) = model.forward(expected.tokens, labels: expected.tokens)
    return (logits.scalars, loss!.item())
  }
}

/// The model's loss on the fixture's tokens with its padded labels, in evaluation mode.
private func paddedLoss(_ model: GPT2, _ expected: Expected) -> Float {
  model.eval()
  return withNoGrad { model.forward(expected.tokens, labels: expected.paddedLabels).loss!.item() }
}

@Suite("GPT-2 in Hugging Face's layout, against transformers")
struct GPT2Tests {
  @Test(arguments: ["tiny", "tiny-sharded", "tiny-f16", "tiny-bf16", "tiny-hub-layout"])
  func modelFolderLoadsAndGivesTransformersLogits(folder: String) throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent(folder))
    let expected = try Expected.of(folder)
    let (logits, loss) = run(model, expected)
    #expect(maxDifference(logits, expected.logits) < 1e-5)
    #expect(abs(loss - expected.loss) < 1e-5)
    #expect(abs(paddedLoss(model, expected) - expected.paddedLoss) < 1e-5)
  }

  @Test func parameterNamesAreTransformersAndTheHeadIsTied() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    let names = model.namedParameters.map(\.name)
    #expect(names.first == "transformer.wte.weight")
    #expect(names.contains("transformer.h.1.attn.c_attn.weight"))
    #expect(names.contains("transformer.h.0.mlp.c_proj.bias"))
    #expect(!names.contains("lm_head.weight"), "tied: listed once, under wte")
    #expect(model.lmHead.weight === model.transformer.wte.weight)
    // Conv1D stores [in, out], as transformers does.
    #expect(model.transformer.h[0].attn.cAttn.weight.shape == [32, 96])
    #expect(model.transformer.h[0].mlp.cFc.weight.shape == [32, 128])
  }

  /// The hub's cache keeps each file once in blobs/ and links it from the snapshot folder.
  @Test func aHuggingFaceCacheSnapshotLoadsAsItIs() throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("hf-\(UUID())")
    defer { try? FileManager.default.removeItem(at: cache) }
    let repository = cache.appendingPathComponent("hub/models--tiny-gpt2")
    let snapshot = repository.appendingPathComponent("snapshots/0123abcd")
    try FileManager.default.createDirectory(
      at: repository.appendingPathComponent("blobs"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
    for (index, file) in ["config.json", "model.safetensors"].enumerated() {
      let blob = repository.appendingPathComponent("blobs/blob\(index)")
      try FileManager.default.copyItem(
        at: fixtures.appendingPathComponent("tiny/\(file)"), to: blob)
      try FileManager.default.createSymbolicLink(
        atPath: snapshot.appendingPathComponent(file).path,
        withDestinationPath: "../../blobs/blob\(index)")
    }
    let expected = try Expected.of("tiny")
    #expect(
      maxDifference(run(try GPT2.load(from: snapshot), expected).logits, expected.logits) < 2e-5)
  }

  @Test func aPickleAloneIsRefusedWithTheCommandThatConvertsIt() throws {
    let folder = fixtures.appendingPathComponent("tiny-bin-only")
    let error = try #require(throws: GPT2FileError.self) { try GPT2.load(from: folder) }
    #expect(error.path.hasSuffix("tiny-bin-only/pytorch_model.bin"))
    #expect(error.reason.contains("from_pretrained('\(folder.path)').save_pretrained("))
  }

  @Test func aConfigThatDoesNotFitTheWeightsNamesTheKeyAndShapes() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tiny"), to: folder)
    let configURL = folder.appendingPathComponent("config.json")
    let config = try String(contentsOf: configURL, encoding: .utf8)
    try config.replacingOccurrences(of: "\"n_inner\": null", with: "\"n_inner\": 64")
      .write(to: configURL, atomically: true, encoding: .utf8)
    let error = try #require(throws: GPT2FileError.self) { try GPT2.load(from: folder) }
    #expect(error.path.hasSuffix("model.safetensors"))
    #expect(error.description.contains("transformer.h.0.mlp.c_fc"), "\(error)")
    #expect(error.description.contains("[32, 64]") && error.description.contains("[32, 128]"))

    try config.replacingOccurrences(of: "\"n_head\": 4", with: "\"n_head\": 5")
      .write(to: configURL, atomically: true, encoding: .utf8)
    let heads = try #require(throws: GPT2FileError.self) { try GPT2.load(from: folder) }
    #expect(
      heads.description.contains("config.json: has n_embd 32, which n_head 5 does not divide"))
  }

  /// Seed 001's adapter (`target_modules=["c_attn"]`) and seed 004's (`c_attn`, `c_proj`),
  /// saved by PEFT, give PEFT's logits here; merged, the same.
  @Test(arguments: ["lora-c_attn", "lora-c_attn-c_proj"])
  func peftAdaptersOnConv1DGivePEFTLogits(adapter: String) throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    let expected = try Expected.of(adapter)
    let adapted = try model.loadAdapter(from: fixtures.appendingPathComponent(adapter))
    #expect(adapted.contains("transformer.h.1.attn.c_attn"))
    #expect(adapted.contains("transformer.h.0.mlp.c_proj") == adapter.hasSuffix("c_proj"))
    #expect(maxDifference(run(model, expected).logits, expected.logits) < 1e-5)
    model.mergeAdapters()
    #expect(maxDifference(run(model, expected).logits, expected.logits) < 1e-5)
  }

  /// LoRA on `c_attn` as seed 001 configures it, trained a few steps, saved in PEFT's layout
  /// with `fan_in_fan_out: true`, and loaded back onto a fresh copy of the model.
  @Test func anAdapterTrainedHereSavesAsPEFTWritesItForConv1D() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    let expected = try Expected.of("tiny")
    // Seeded throughout: the adapter's A and the dropout masks of training.
    try Random.withSeed(1) {
      try applyLoRA(
        to: model, config: AdapterConfig(r: 8, loraAlpha: 16, targetModules: .names(["c_attn"])))
      #expect(model.trainableParameters.count == 4)
      let optimizer = AdamW(model.trainableParameters, learningRate: 1e-2)
      for _ in 0..<5 {
        optimizer.zeroGrad()
        model.forward(expected.tokens, labels: expected.tokens).loss!.backward()
        optimizer.step()
      }
    }
    let trained = run(model, expected)
    #expect(trained.loss < expected.loss)
    try model.saveAdapter(to: folder)
    // The way back is checked by PEFT: Scripts/make-gpt2-fixtures.py --check loads this
    // folder over tiny/ and compares its logits with the ones recorded here.
    let committed = fixtures.appendingPathComponent("swift-saved/c_attn")
    if ProcessInfo.processInfo.environment["LORA_UPDATE_FIXTURES"] == "1" {
      try? FileManager.default.removeItem(at: committed)
      try FileManager.default.createDirectory(
        at: committed.deletingLastPathComponent(), withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: folder, to: committed)
      try JSONEncoder().encode(["logits": trained.logits]).write(
        to: committed.appendingPathComponent("expected.json"))
    }
    let config = try AdapterConfig(contentsOf: folder.appendingPathComponent("adapter_config.json"))
    #expect(config.fanInFanOut)
    let reloaded = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    try reloaded.loadAdapter(from: folder)
    #expect(maxDifference(run(reloaded, expected).logits, trained.logits) < 1e-6)
    // The committed copy is what this test makes: training here is deterministic.
    let recorded = try JSONDecoder().decode(
      [String: [Float]].self,
      from: Data(contentsOf: committed.appendingPathComponent("expected.json")))
    #expect(maxDifference(recorded["logits"] ?? [], trained.logits) < 1e-5)
  }

  /// With the key/value cache, greedy generation picks what a full forward pass over the
  /// window would: before the context fills and after the window slides past 32 positions.
  @Test(arguments: [[5, 17, 3], Array(0..<30).map { $0 * 3 % 96 }])
  func greedyGenerationIsTheArgmaxOfEachStep(prompt: [Int]) throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    let tokens = model.generate(context: prompt, maxNewTokens: 8, temperature: 0)
    #expect(tokens.count == prompt.count + 8 && Array(tokens.prefix(prompt.count)) == prompt)
    #expect(model.isTraining, "generate leaves the mode as it found it")
    model.eval()
    for step in prompt.count..<tokens.count {
      let window = Array(tokens.prefix(step).suffix(model.config.nPositions))
      let logits = withNoGrad { model.forward([window]).logits.scalars }
      let last = Array(logits.suffix(model.config.vocabSize))
      #expect(tokens[step] == last.indices.max { last[$0] < last[$1] }, "step \(step)")
    }
  }
}

/// `tokenizer/expected.json`: texts with the ids transformers' GPT2Tokenizer gives them.
private struct TokenizerFixture: Decodable {
  struct Case: Decodable {
    let text: String
    let ids: [Int]
  }
  let cases: [Case]
  let shakespeare20k: [Int]

  static let shared: TokenizerFixture = try! JSONDecoder().decode(
    TokenizerFixture.self,
    from: Data(contentsOf: fixtures.appendingPathComponent("tokenizer/expected.json")))
}

@Suite("GPT-2's byte-level BPE tokenizer, against transformers")
struct GPT2TokenizerTests {
  let folder = fixtures.appendingPathComponent("tokenizer")

  @Test func bothFileFormatsGiveTransformersIds() throws {
    let pair = try GPT2Tokenizer(
      vocabFile: folder.appendingPathComponent("vocab.json"),
      mergesFile: folder.appendingPathComponent("merges.txt"))
    let single = try GPT2Tokenizer(tokenizerFile: folder.appendingPathComponent("tokenizer.json"))
    #expect(pair.count == 1000 && single.count == 1000)
    for tokenizer in [pair, single] {
      for example in TokenizerFixture.shared.cases {
        #expect(
          tokenizer.encode(example.text) == example.ids, "\(String(reflecting: example.text))")
        #expect(tokenizer.decode(example.ids) == example.text)
      }
    }
  }

  @Test func twentyThousandCharactersOfShakespeareGiveTransformersIds() throws {
    let corpus = try String(
      contentsOf: fixtures.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Lessons/data/tinyshakespeare.txt"), encoding: .utf8)
    let tokenizer = try GPT2Tokenizer.load(from: folder)
    let prefix = String(corpus.unicodeScalars.prefix(20_000))
    #expect(tokenizer.encode(prefix) == TokenizerFixture.shared.shakespeare20k)
  }

  /// Any text, however odd its bytes, comes back as it went in.
  @Test func anyTextRoundTrips() throws {
    let tokenizer = try GPT2Tokenizer.load(from: folder)
    var generator = RandomGenerator(seed: 7)
    let alphabet: [Unicode.Scalar] = [
      "a", "Z", "'", "s", " ", "\n", "\t", "\r", "0", "9", "!", "é", "\u{301}", "中", "😀",
      "\u{200D}", "\u{A0}", "\u{85}", "\u{2028}", "<", "|", ">", "\u{0}", "\u{FFFD}",
    ]
    for _ in 0..<500 {
      var text = String.UnicodeScalarView()
      for _ in 0..<Int(generator.nextUniform() * 40) {
        text.append(alphabet[Int(generator.nextUniform() * Float(alphabet.count)) % alphabet.count])
      }
      let string = String(text)
      #expect(tokenizer.decode(tokenizer.encode(string)) == string)
    }
    #expect(tokenizer.decode([5, 100_000, -1]).hasSuffix("\u{FFFD}\u{FFFD}"))
  }

  @Test func aBrokenMergesLineIsNamedByItsNumber() throws {
    let broken = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-\(UUID())")
    defer { try? FileManager.default.removeItem(at: broken) }
    try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: folder.appendingPathComponent("vocab.json"),
      to: broken.appendingPathComponent("vocab.json"))
    try "#version: 0.2\nĠ t\nh e x\n".write(
      to: broken.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
    let error = try #require(throws: GPT2FileError.self) { try GPT2Tokenizer.load(from: broken) }
    #expect(error.path.hasSuffix("merges.txt:3"))
  }
}

extension GPT2Tests {
  /// Saved as `save_pretrained` saves: the head stays tied (not stored, and the same tensor
  /// after loading), and the logits come back.
  @Test func tiedWeightsStayTiedThroughSaveAndLoad() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    try model.save(to: folder)
    let keys = try Safetensors(contentsOf: folder.appendingPathComponent("model.safetensors"))
      .tensors.keys
    #expect(!keys.contains("lm_head.weight") && keys.contains("transformer.wte.weight"))
    let reloaded = try GPT2.load(from: folder)
    #expect(reloaded.config == model.config)
    #expect(reloaded.lmHead.weight === reloaded.transformer.wte.weight)
    let expected = try Expected.of("tiny")
    #expect(run(reloaded, expected).logits == run(model, expected).logits)
    try applyLoRA(to: model, targets: ["c_attn"], rank: 2, alpha: 4)
    #expect(throws: GPT2FileError.self) { try model.save(to: folder) }
  }

  /// LoRA on every Conv1D (`c_attn`, `c_proj` of attention and MLP, `c_fc`): merging gives the unmerged
  /// output, and unmerging restores the base weights bit for bit.
  @Test func mergeAndUnmergeOnEveryConv1D() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny"))
    let expected = try Expected.of("tiny")
    let before = model.namedParameters.map(\.parameter.scalars)
    try Random.withSeed(3) {
      try applyLoRA(to: model, targets: ["c_attn", "c_proj", "c_fc"], rank: 4, alpha: 8)
    }
    #expect(model.loraLayers.count == 8)  // per block: c_attn, attn.c_proj, c_fc, mlp.c_proj
    var generator = RandomGenerator(seed: 9)
    for (_, layer) in model.loraLayers {
      layer.loraB.scalars = Tensor.randn(layer.loraB.shape, using: &generator).scalars
        .map { $0 * 0.1 }
    }
    let unmerged = run(model, expected).logits
    #expect(maxDifference(unmerged, expected.logits) > 1e-3, "the adapters change the output")
    model.mergeAdapters()
    #expect(maxDifference(run(model, expected).logits, unmerged) < 1e-5)
    for (_, layer) in model.loraLayers { layer.unmerge() }
    let base = model.loraLayers.map(\.layer.weight.scalars)
    #expect(base.allSatisfy { weights in before.contains(weights) })
  }
}

extension GPT2Tests {
  /// A model made here, saved with `save(to:)`: `Scripts/make-gpt2-fixtures.py --check`
  /// opens the committed copy with `GPT2LMHeadModel.from_pretrained` and compares logits.
  @Test func aModelSavedHereIsCommittedForTransformersToOpen() throws {
    let model = Random.withSeed(21) {
      GPT2(GPT2Config(vocabSize: 96, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4, nInner: 48))
    }
    let expected = try Expected.of("tiny")
    let logits = run(model, expected).logits
    let committed = fixtures.appendingPathComponent("swift-saved/model")
    if ProcessInfo.processInfo.environment["LORA_UPDATE_FIXTURES"] == "1" {
      try? FileManager.default.removeItem(at: committed)
      try model.save(to: committed)
      try JSONEncoder().encode(["logits": logits]).write(
        to: committed.appendingPathComponent("expected.json"))
    }
    let reloaded = try GPT2.load(from: committed)
    #expect(run(reloaded, expected).logits == logits)
  }
}

extension GPT2Tests {
  /// Lesson 05's model and tokenizer, as the project trained them: the ids and logits of a
  /// line of Shakespeare are recorded for `Scripts/make-gpt2-fixtures.py --check`, which
  /// opens the folder with `from_pretrained` and `GPT2TokenizerFast` and compares.
  @Test func theCourseModelIsRecordedForTransformersToCheck() throws {
    let folder = fixtures.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Lessons/models/gpt2-shakespeare")
    let model = try GPT2.load(from: folder)
    let tokenizer = try GPT2Tokenizer.load(from: folder)
    let text = "ROMEO:\nBut soft, what light through yonder window breaks?"
    let ids = tokenizer.encode(text)
    model.eval()
    let logits = withNoGrad { model.forward([ids]).logits.scalars }
    let recordURL = fixtures.appendingPathComponent("swift-saved/course-model.json")
    struct Record: Codable {
      let text: String
      let ids: [Int]
      let logits: [Float]
    }
    if ProcessInfo.processInfo.environment["LORA_UPDATE_FIXTURES"] == "1" {
      try JSONEncoder().encode(Record(text: text, ids: ids, logits: logits)).write(to: recordURL)
    }
    let record = try JSONDecoder().decode(Record.self, from: Data(contentsOf: recordURL))
    #expect(record.ids == ids)
    #expect(maxDifference(record.logits, logits) < 1e-5)
    #expect(tokenizer.decode(ids) == text)
  }
}
