import Foundation
import Testing

@testable import LoRA

/// What `Scripts/make-quantized-fixtures.py` wrote with the real bitsandbytes 0.50,
/// transformers 5 and PEFT 0.21 on the CPU.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/quantized")

/// `blockwise.safetensors`: tensors quantized by `bitsandbytes.functional.quantize_4bit`.
private func blockwise() throws -> Safetensors {
  try Safetensors(contentsOf: fixtures.appendingPathComponent("blockwise.safetensors"))
}

private func read(_ variant: String) throws -> FourBitWeight {
  let file = try blockwise()
  return try FourBitWeight.read(variant + ".weight", floats: file.tensors, bytes: file.byteTensors)
}

/// The variants of the file: NF4 and FP4, plain and double-quantized, of a tensor with a
/// partial last block and of one with an odd count.
private let variants = ["input", "odd"].flatMap { name in
  ["nf4", "fp4"].flatMap { type in ["\(name)-\(type)", "\(name)-\(type)-nested"] }
}

@Suite("4-bit weights, against bitsandbytes")
struct QuantizationTests {
  @Test func theLevelsAreBitsandbytesTables() throws {
    let file = try blockwise()
    #expect(FourBitType.nf4.levels == file.tensors["input-nf4.weight.quant_map"]?.scalars)
    #expect(FourBitType.fp4.levels == file.tensors["input-fp4.weight.quant_map"]?.scalars)
    #expect(
      BlockScales.dynamicMap == file.tensors["input-nf4-nested.weight.nested_quant_map"]?.scalars)
  }

  @Test("dequantization is dequantize_4bit's, bit for bit", arguments: variants)
  func dequantizesBitForBit(variant: String) throws {
    let weight = try read(variant)
    let file = try blockwise()
    let expected = try #require(file.tensors[variant + ".dequantized"])
    let ours = weight.dequantized()
    #expect(ours.shape == expected.shape)
    // Float equality is bit equality but for the sign of zero: bitsandbytes' own two paths
    // disagree there (its C kernel decodes FP4's code 8 as −0, its torch path as the +0 of
    // the table), and no product can tell them apart.
    #expect(ours.scalars == expected.scalars)
    // The portable loop, as a CPU without AVX2 runs it, agrees too.
    var portable = [Float](repeating: .nan, count: weight.count)
    portable.withUnsafeMutableBufferPointer {
      weight.dequantize(rows: 0..<weight.shape[0], into: $0.baseAddress!, portable: true)
    }
    #expect(portable == expected.scalars)
  }

  @Test("quantization is quantize_4bit's, code for code", arguments: variants)
  func quantizesAsBitsandbytes(variant: String) throws {
    let stored = try read(variant)
    let name = String(variant.prefix { $0 != "-" })
    let file = try blockwise()
    let input = try #require(file.tensors[name])
    let ours = FourBitWeight(
      quantizing: input, as: stored.type, doubleQuantization: stored.isDoubleQuantized)
    #expect(ours.packedCodes == stored.packedCodes)
    switch (ours.scales, stored.scales) {
    case (.plain(let a), .plain(let b)):
      #expect(a == b)
    case (
      .nested(let codes, _, let scales, let block, let offset),
      .nested(let storedCodes, _, let storedScales, let storedBlock, let storedOffset)
    ):
      // The mean the scales are centred on is torch's to an ulp (see the test below).
      #expect(
        abs(offset - storedOffset) <= storedOffset.ulp, "offset \(offset) against \(storedOffset)")
      #expect(codes == storedCodes)
      for (a, b) in zip(scales, storedScales) {
        #expect(abs(a - b) <= 2 * storedOffset.ulp, "nested scale \(a) against \(b)")
      }
      #expect(block == storedBlock)
    default:
      Issue.record("scales of different kinds: \(ours.scales) against \(stored.scales)")
    }
  }

  @Test(
    "a 4-bit GPT-2 folder loads packed and gives transformers' logits",
    arguments: ["tiny-nf4-nested", "tiny-nf4", "tiny-fp4"])
  func fourBitFolderLoads(folder: String) throws {
    let url = fixtures.appendingPathComponent(folder)
    let model = try GPT2.load(from: url)
    let dequantized = try Safetensors(
      contentsOf: url.appendingPathComponent("dequantized.safetensors"))
    #expect(dequantized.tensors.count == 8)
    for (name, expected) in dequantized.tensors {
      let path = String(name.dropLast(".weight".count))
      let layer = try #require(model.namedModules.first { $0.name == path }?.module as? Linear)
      let packed = try #require(layer.quantizedWeight, "\(path) is not 4-bit")
      let ours = packed.dequantized().scalars
      let first = ours.indices.first { ours[$0] != expected.scalars[$0] }
      #expect(first == nil, "\(path): first difference at \(first ?? -1) of \(ours.count)")
    }
    // No float copy of a 4-bit weight is a parameter.
    #expect(!model.namedParameters.contains { $0.name.hasSuffix("c_attn.weight") })
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent(folder))
    let difference = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(difference < 1e-4, "largest difference \(difference)")
  }

  /// The 4-bit codes are bitsandbytes' exactly. With double quantization, the 8-bit codes of
  /// the scales are measured from their mean, which torch sums in its own order (vector
  /// lanes, then a cascade): ours is within an ulp or two, so a scale that lies on the
  /// boundary between two 8-bit levels may round to the other one.
  /// Generation over a 4-bit base (one token at a time, through the codes directly) picks
  /// the same tokens as the dequantized float model.
  @Test func aFourBitModelGeneratesAsItsDequantizedCopy() throws {
    let quantized = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    let float = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    #expect(float.dequantize().count == 8)
    let context = [5, 17, 3, 90]
    let ours = quantized.generate(context: context, maxNewTokens: 20, temperature: 0)
    #expect(ours == float.generate(context: context, maxNewTokens: 20, temperature: 0))
    #expect(ours.count == 24)
  }

  @Test func quantizingAFloatModelGivesTransformersCodes() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny64"))
    let quantized = try model.quantize(.nf4, doubleQuantization: true)
    #expect(quantized.count == 8)
    #expect(!quantized.contains("lm_head"))
    let saved = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    for name in quantized {
      let ours = try #require(
        (model.namedModules.first { $0.name == name }?.module as? Linear)?.quantizedWeight)
      let theirs = try #require(
        (saved.namedModules.first { $0.name == name }?.module as? Linear)?.quantizedWeight)
      #expect(ours.packedCodes == theirs.packedCodes, "\(name)")
      guard case .nested(let codes, _, _, _, let offset) = ours.scales,
        case .nested(let storedCodes, _, _, _, let storedOffset) = theirs.scales
      else {
        Issue.record("\(name) is not double-quantized")
        continue
      }
      #expect(
        abs(offset - storedOffset) <= 2 * storedOffset.ulp,
        "\(name): offset \(offset) against \(storedOffset)")
      #expect(zip(codes, storedCodes).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "\(name)")
      let differing = zip(codes, storedCodes).filter { $0 != $1 }.count
      #expect(
        differing * 50 <= codes.count, "\(name): \(differing) of \(codes.count) scale codes differ")
    }
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent("tiny-nf4-nested"))
    let difference = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(difference < 1e-3, "largest difference \(difference)")
  }

  @Test func peftsQLoRAAdapterGivesPEFTsLogits() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    try model.loadAdapter(from: fixtures.appendingPathComponent("qlora-c_attn"))
    let layer = try #require(
      model.namedModules.first { $0.name == "transformer.h.0.attn.c_attn" }?.module as? LoRALinear)
    #expect(layer.quantizedWeight != nil)
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent("qlora-c_attn"))
    let difference = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(difference < 1e-4, "largest difference \(difference)")
  }

  @Test func theProductAndItsGradientAreTheDequantizedWeights() throws {
    let weight = try read("input-nf4-nested")  // [7, 100]: blocks straddle rows
    let float = Linear(weight: weight.dequantized(), bias: Tensor.randn([7]))
    let packed = Linear(quantized: weight, bias: float.bias)
    for rows in [1, 5] {
      let x = Tensor.randn([rows, 100], requiresGrad: true)
      let y = Tensor.randn([rows, 7], requiresGrad: true)
      let expected = float(x)
      (expected * y).sum().backward()
      let expectedGradient = x.grad!.scalars
      x.grad = nil
      let ours = packed(x)
      (ours * y).sum().backward()
      #expect(largestDifference(ours.scalars, expected.scalars) < 1e-5, "rows: \(rows)")
      #expect(largestDifference(x.grad!.scalars, expectedGradient) < 1e-5, "rows: \(rows)")
    }
  }

  /// QLoRA: LoRA trained over the 4-bit base follows, step for step, the same LoRA trained
  /// over a float copy of the dequantized weights, and the codes never change.
  @Test func qloraTrainsAsLoRAOverTheDequantizedBase() throws {
    func train(_ model: GPT2) throws -> [Float] {
      try Random.withSeed(0) {
        _ = try applyLoRA(to: model, targets: ["c_attn", "c_fc"], rank: 4, alpha: 8)
      }
      #expect(model.trainableParameters.count == 8)
      let optimizer = AdamW(model.trainableParameters, learningRate: 2e-2)
      let tokens = [[5, 17, 3, 90, 42, 8, 8, 61, 5, 17, 3, 90, 42, 8, 8, 61]]
      model.eval()  // no dropout, so that both runs draw nothing
      return (0..<40).map { _ in
        let loss = model.forward(tokens, labels: tokens).loss!
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
        return loss.item()
      }
    }
    let quantized = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    let codes = quantized.namedModules.compactMap { ($0.module as? Linear)?.quantizedWeight }
    let float = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    #expect(float.dequantize().count == 8)
    let qlora = try train(quantized)
    let lora = try train(float)
    #expect(largestDifference(qlora, lora) < 1e-3, "QLoRA \(qlora) against LoRA \(lora)")
    #expect(qlora.last! < qlora.first! * 0.8, "losses \(qlora)")
    #expect(quantized.namedModules.compactMap { ($0.module as? Linear)?.quantizedWeight } == codes)
  }

  @Test func mergingIntoAFourBitBaseRoundsAndUnmergingRestores() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    try model.loadAdapter(from: fixtures.appendingPathComponent("qlora-c_attn"))
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent("qlora-c_attn"))
    let layer = try #require(
      model.namedModules.first { $0.name == "transformer.h.0.attn.c_attn" }?.module as? LoRALinear)
    let codes = layer.quantizedWeight
    model.mergeAdapters()
    #expect(layer.isMerged)
    #expect(layer.quantizedWeight != codes)
    // Close to base + adapter, not equal: the sum was rounded to 4 bits again.
    let merged = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(merged > 1e-6 && merged < 0.5, "merged difference \(merged)")
    model.unmergeAdapters()
    #expect(layer.quantizedWeight == codes)
    // Dequantized first, the merge is exact.
    #expect(model.dequantize().count == 8)
    #expect(layer.quantizedWeight == nil)
    model.mergeAdapters()
    #expect(
      largestDifference(evaluationLogits(of: model, on: expected.tokens), expected.logits) < 1e-4)
  }

  /// An LLM.int8 folder: its weights stay 8-bit and read back as bitsandbytes'
  /// `int8_vectorwise_dequant` gives them. bitsandbytes' forward also rounds the activations
  /// to int8 (and the outliers to half precision), which this library does not: its logits
  /// are the dequantized weights' exactly, and bitsandbytes' are near them.
  @Test func anEightBitFolderLoadsAndKeepsItsCodes() throws {
    let url = fixtures.appendingPathComponent("tiny-int8")
    let model = try GPT2.load(from: url)
    let dequantized = try Safetensors(
      contentsOf: url.appendingPathComponent("dequantized.safetensors"))
    #expect(dequantized.tensors.count == 8)
    for (name, expected) in dequantized.tensors {
      let path = String(name.dropLast(".weight".count))
      let layer = try #require(model.namedModules.first { $0.name == path }?.module as? Linear)
      let codes = try #require(layer.eightBitWeight, "\(path) is not 8-bit")
      #expect(codes.dequantized().scalars == expected.scalars, "\(path)")
    }
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent("tiny-int8"))
    let difference = largestDifference(
      evaluationLogits(of: model, on: expected.tokens), expected.logits)
    #expect(difference < 2e-2, "largest difference \(difference)")
    // LoRA trains over it, and merging into it rounds and unmerging restores, as for 4 bits.
    try applyLoRA(to: model, targets: ["c_attn"], rank: 2, alpha: 4)
    let layer = try #require(model.loraLayers.first?.layer)
    let before = layer.eightBitWeight
    layer.loraB.scalars = layer.loraB.scalars.map { _ in 0.01 }
    layer.merge()
    #expect(layer.eightBitWeight != before && layer.eightBitWeight != nil)
    layer.unmerge()
    #expect(layer.eightBitWeight == before)
  }

  @Test func corruptStatesAreRefusedByName() throws {
    let file = try blockwise()
    func attempt(_ change: (inout [String: Tensor], inout [String: ByteTensor]) -> Void) -> String {
      var (floats, bytes) = (file.tensors, file.byteTensors)
      change(&floats, &bytes)
      do {
        _ = try FourBitWeight.read("input-nf4-nested.weight", floats: floats, bytes: bytes)
        return "accepted"
      } catch {
        return "\(error)"
      }
    }
    let state = "input-nf4-nested.weight.quant_state.bitsandbytes__nf4"
    let json = file.byteTensors[state]!
    let truncated = attempt { _, bytes in
      bytes[state] = ByteTensor(dtype: "U8", shape: [10], bytes: Array(json.bytes.prefix(10)))
    }
    #expect(truncated.contains(state) && truncated.contains("not a JSON object"), "\(truncated)")
    let short = attempt { _, bytes in
      let codes = bytes["input-nf4-nested.weight"]!
      bytes["input-nf4-nested.weight"] = ByteTensor(
        dtype: "U8", shape: [10, 1], bytes: Array(codes.bytes.prefix(10)))
    }
    #expect(short.contains("input-nf4-nested.weight") && short.contains("needs 350"), "\(short)")
    let blocks = attempt { floats, _ in
      floats["input-nf4-nested.weight.nested_absmax"] = Tensor([1, 2, 3])
    }
    #expect(blocks.contains("nested state that does not fit"), "\(blocks)")
    let missing = attempt { floats, _ in floats["input-nf4-nested.weight.quant_map"] = nil }
    #expect(missing.contains("quant_map") && missing.contains("missing"), "\(missing)")
  }

  /// A LoRA adapter made here over the 4-bit base, for PEFT: committed in
  /// `swift-saved/qlora`, with its logits, which `make-quantized-fixtures.py --check-only`
  /// compares with PEFT's over the same base (`LORA_UPDATE_FIXTURES=1` rewrites it).
  @Test func qloraAdapterSavedHereIsCurrent() throws {
    let model = try GPT2.load(from: fixtures.appendingPathComponent("tiny-nf4-nested"))
    try Random.withSeed(21) {
      _ = try applyLoRA(to: model, targets: ["c_attn", "c_fc"], rank: 4, alpha: 8)
    }
    var generator = RandomGenerator(seed: 22)
    for (_, layer) in model.loraLayers {
      let b = layer.loraB
      b.scalars = Tensor.randn(b.shape, using: &generator).scalars.map { $0 * 0.1 }
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    try model.saveAdapter(to: folder, baseModel: "tiny-nf4-nested")
    let expected = try ExpectedLogits.read(fixtures.appendingPathComponent("qlora-c_attn"))
    let ours = ExpectedLogits(
      tokens: expected.tokens, logits: evaluationLogits(of: model, on: expected.tokens))
    let committed = fixtures.appendingPathComponent("swift-saved/qlora")
    if ProcessInfo.processInfo.environment["LORA_UPDATE_FIXTURES"] == "1" {
      try? FileManager.default.removeItem(at: committed)
      try FileManager.default.createDirectory(
        at: committed.deletingLastPathComponent(), withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: folder, to: committed)
      try JSONEncoder().encode(ours).write(to: committed.appendingPathComponent("expected.json"))
    }
    for file in [AdapterFiles.config, AdapterFiles.weights] {
      let theirs = try? Data(contentsOf: committed.appendingPathComponent(file))
      #expect(
        try Data(contentsOf: folder.appendingPathComponent(file)) == theirs,
        "swift-saved/qlora/\(file) is not what this code writes; rerun with LORA_UPDATE_FIXTURES=1")
    }
    let recorded = try JSONDecoder().decode(
      ExpectedLogits.self, from: Data(contentsOf: committed.appendingPathComponent("expected.json"))
    )
    #expect(largestDifference(recorded.logits, ours.logits) < 1e-5)
  }
}
