import Foundation
import Testing

@testable import LoRA

/// A two-layer model with LoRA-replaceable children, as PEFT's tests use small MLPs.
private final class MLP: Module {
  @Child var lin0 = Linear(10, 20)
  @Child var lin1 = Linear(20, 2)
  override func callAsFunction(_ x: Tensor) -> Tensor { lin1(lin0(x).relu()) }
}

private func temporaryDirectory() -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "lora-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

@Suite("LoRA, checked as PEFT's test suite checks it")
struct LoRATests {
  let input = Random.withSeed(99) { Tensor.randn([5, 10]) }

  @Test func initialOutputEqualsBase() throws {
    let model = Random.withSeed(1) { MLP() }
    let before = model(input).scalars
    _ = try Random.withSeed(2) {
      try applyLoRA(to: model, targets: ["lin0", "lin1"], rank: 4, alpha: 8)
    }
    #expect(model(input).scalars == before)
  }

  @Test func injectionReplacesMatchingModulesAndFreezesTheRest() throws {
    let model = Random.withSeed(1) { MLP() }
    let replaced = try applyLoRA(to: model, targets: ["lin0"], rank: 2, alpha: 4)
    #expect(replaced == ["lin0"])
    #expect(model.lin0 is LoRALinear)
    #expect(!(model.lin1 is LoRALinear))
    let trainable = model.namedParameters.filter { $0.parameter.requiresGrad }.map(\.name)
    #expect(trainable == ["lin0.lora_A.default.weight", "lin0.lora_B.default.weight"])
    let layer = try #require(model.lin0 as? LoRALinear)
    #expect(layer.loraA.shape == [2, 10])
    #expect(layer.loraB.shape == [20, 2])
    #expect(layer.scaling == 2)
    #expect(layer.loraB.scalars.allSatisfy { $0 == 0 })
    let bound = 1 / Float(10).squareRoot()
    #expect(layer.loraA.scalars.allSatisfy { abs($0) <= bound })
  }

  @Test func rsLoRAScalesBySquareRootOfRank() throws {
    let layer = LoRALinear(base: Linear(8, 8), rank: 4, alpha: 8, useRSLoRA: true)
    #expect(layer.scaling == 4)
  }

  @Test func aTargetThatMatchesNothingIsAnError() throws {
    let model = MLP()
    #expect(throws: ModuleError.noMatchingModules(targets: ["lin2"], available: ["lin0", "lin1"])) {
      try applyLoRA(to: model, targets: ["lin0", "lin2"], rank: 2, alpha: 4)
    }
    let message = ModuleError.noMatchingModules(targets: ["qury"], available: ["a.query"])
      .description
    #expect(message.contains("Modules that can be targeted: a.query"))
  }

  @Test func onlyLoRAParametersChangeWhenTraining() throws {
    let model = Random.withSeed(1) { MLP() }
    try applyLoRA(to: model, targets: ["lin0", "lin1"], rank: 4, alpha: 8)
    let before = model.namedParameters.map { ($0.name, $0.parameter.scalars) }
    let optimizer = AdamW(model.parameters, learningRate: 0.1)
    #expect(optimizer.parameters.count == 4)
    for _ in 0..<3 {
      optimizer.zeroGrad()
      model(input).sum().backward()
      optimizer.step()
    }
    for ((name, old), (_, parameter)) in zip(before, model.namedParameters) {
      let isLoRA = name.contains("lora")
      #expect((parameter.scalars != old) == isLoRA, "\(name)")
    }
    #expect(model.parameters.filter { !$0.requiresGrad }.allSatisfy { $0.grad == nil })
  }

  @Test func disabledAdaptersGiveTheBaseOutput() throws {
    let model = Random.withSeed(1) { MLP() }
    let base = model(input).scalars
    try applyLoRA(to: model, targets: ["lin0", "lin1"], rank: 4, alpha: 8)
    perturb(model)
    #expect(model(input).scalars != base)
    model.disableAdapters()
    #expect(model(input).scalars == base)
    model.disableAdapters(false)
    #expect(model(input).scalars != base)
  }

  @Test func mergingMatchesAndUnmergingRestoresExactly() throws {
    let model = Random.withSeed(1) { MLP() }
    let baseWeight = model.lin0.weight.scalars
    try applyLoRA(to: model, targets: ["lin0", "lin1"], rank: 4, alpha: 8)
    perturb(model)
    let unmerged = model(input).scalars
    model.mergeAdapters()
    #expect(model.loraLayers.allSatisfy { $0.layer.isMerged })
    let merged = model(input).scalars
    #expect(isClose(merged, unmerged, tolerance: 1e-5))
    model.mergeAdapters()  // a second merge changes nothing
    #expect(model(input).scalars == merged)
    model.unmergeAdapters()
    #expect(model.lin0.weight.scalars == baseWeight)
    #expect(model(input).scalars == unmerged)
    model.unmergeAdapters()
    #expect(model.lin0.weight.scalars == baseWeight)
  }

  @Test func severalAdaptersSwitchDisableAndDelete() throws {
    let model = Random.withSeed(1) { MLP() }
    let base = model(input).scalars
    try applyLoRA(to: model, targets: ["lin0"], rank: 2, alpha: 2, adapterName: "formal")
    perturb(model)
    let formal = model(input).scalars
    try applyLoRA(to: model, targets: ["lin0"], rank: 2, alpha: 2, adapterName: "casual")
    perturb(model)
    let casual = model(input).scalars
    #expect(model.adapterNames == ["formal", "casual"])
    #expect(formal != casual)
    try model.setActiveAdapter("formal")
    #expect(model(input).scalars == formal)
    try model.setActiveAdapter("casual")
    #expect(model(input).scalars == casual)
    model.disableAdapters()
    #expect(model(input).scalars == base)
    try model.setActiveAdapter("formal")
    #expect(model(input).scalars == formal)
    try model.deleteAdapter("formal")
    #expect(model.adapterNames == ["casual"])
    #expect(model(input).scalars == base)  // no adapter is active any more
    #expect(throws: ModuleError.self) { try model.setActiveAdapter("formal") }
  }

  @Test func saveThenLoadWithAnotherSeedReproducesOutputs() throws {
    let model = Random.withSeed(1) { MLP() }
    try applyLoRA(to: model, targets: ["lin0", "lin1"], rank: 4, alpha: 8, dropout: 0.1)
    perturb(model)
    model.eval()
    let expected = model(input).scalars
    let directory = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try model.saveAdapter(to: directory, baseModel: "mlp")

    let fresh = Random.withSeed(1) { MLP() }  // the same base weights
    let loaded = try Random.withSeed(7) { try fresh.loadAdapter(from: directory) }  // other A, B
    fresh.eval()
    #expect(loaded == ["lin0", "lin1"])
    #expect(fresh(input).scalars == expected)

    let config =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: directory.appendingPathComponent("adapter_config.json")))
      as! [String: Any]
    #expect(config["peft_type"] as? String == "LORA")
    #expect(config["r"] as? Int == 4)
    #expect(config["lora_alpha"] as? Double == 8)
    #expect(config["target_modules"] as? [String] == ["lin0", "lin1"])
    #expect(config["use_rslora"] as? Bool == false)
    #expect(config["base_model_name_or_path"] as? String == "mlp")
    let file = try Safetensors(
      contentsOf: directory.appendingPathComponent("adapter_model.safetensors"))
    #expect(
      file.tensors.keys.sorted() == [
        "base_model.model.lin0.lora_A.weight", "base_model.model.lin0.lora_B.weight",
        "base_model.model.lin1.lora_A.weight", "base_model.model.lin1.lora_B.weight",
      ])
    #expect(file.tensors["base_model.model.lin0.lora_A.weight"]!.shape == [4, 10])
    #expect(file.tensors["base_model.model.lin1.lora_B.weight"]!.shape == [2, 4])
  }

  @Test func loadingIntoAModelOfOtherShapesNamesTheTensor() throws {
    let model = MLP()
    try applyLoRA(to: model, targets: ["lin0"], rank: 4, alpha: 8)
    let directory = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try model.saveAdapter(to: directory)

    final class Wider: Module {
      @Child var lin0 = Linear(12, 20)
    }
    let other = Wider()
    #expect(
      throws: ModuleError.shapeMismatch(
        tensor: "base_model.model.lin0.lora_A.weight", expected: [4, 12], found: [4, 10])
    ) { try other.loadAdapter(from: directory) }
    #expect(!(other.lin0 is LoRALinear))  // a failed load leaves the model as it was
  }

  @Test func missingAndExtraKeysAreErrors() throws {
    let model = MLP()
    try applyLoRA(to: model, targets: ["lin0"], rank: 4, alpha: 8)
    let directory = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try model.saveAdapter(to: directory)
    let weights = directory.appendingPathComponent("adapter_model.safetensors")
    var file = try Safetensors(contentsOf: weights)
    file.tensors["base_model.model.lin0.lora_B.weight"] = nil
    file.tensors["base_model.model.extra.lora_A.weight"] = Tensor.zeros([1])
    try file.write(to: weights)
    let error = try #require(throws: AdapterFileError.self) {
      try MLP().loadAdapter(from: directory)
    }
    #expect(error.path == weights.path)
    #expect(error.reason.contains("missing from the file: base_model.model.lin0.lora_B.weight"))
    #expect(error.reason.contains("not in the model: base_model.model.extra.lora_A.weight"))
  }

  @Test func fullWeightsRoundTrip() throws {
    let model = Random.withSeed(3) { MLP() }
    let url = temporaryDirectory().appendingPathComponent("model.safetensors")
    try model.saveWeights(to: url)
    let copy = Random.withSeed(4) { MLP() }
    try copy.loadWeights(from: url)
    #expect(copy(input).scalars == model(input).scalars)

    final class Smaller: Module {
      @Child var lin0 = Linear(10, 20)
    }
    #expect(
      throws: ModuleError.keyMismatch(missing: [], unexpected: ["lin1.bias", "lin1.weight"])
    ) { try Smaller().loadWeights(from: url) }
  }

  @Test(
    "the seeds' parameter counts",
    arguments: [
      (100, 4, 800, 10_800), (1000, 4, 8000, 1_008_000), (1024, 8, 16_384, 1_064_960),
    ])
  func parameterCounts(size: Int, rank: Int, trainable: Int, total: Int) throws {
    final class Layer: Module {
      @Child var layer: Linear
      init(_ size: Int) {
        layer = Linear(size, size, bias: false)
      }
    }
    let model = Layer(size)
    try applyLoRA(to: model, targets: ["layer"], rank: rank, alpha: Float(rank))
    let report = parameterReport(model)
    #expect(report.trainable == trainable)
    #expect(report.total == total)
  }

  @Test func reportReadsLikePEFT() {
    let report = ParameterReport(trainable: 800, total: 10_800)
    #expect(
      report.description
        == "trainable params: 800 || all params: 10,800 || trainable%: 7.4074\n"
        + "frozen params: 10,000 || trainable bytes: 3,200 || frozen bytes: 40,000")
  }

  @Test func loraGradientsMatchFiniteDifferences() {
    let layer = Random.withSeed(5) { LoRALinear(base: Linear(4, 3), rank: 2, alpha: 4) }
    perturb(layer)
    let x = parameter([2, 4], seed: 6)
    checkGradients([x, layer.loraA, layer.loraB]) { inputs in layer(inputs[0]) }
  }

  /// Gives every LoRA B a non-zero value, as training would, so adapters change outputs.
  private func perturb(_ model: Module) {
    for (_, layer) in model.loraLayers {
      guard let adapter = layer.activeAdapter else { continue }
      var generator = RandomGenerator(seed: UInt64(adapter.loraB.count + adapter.name.count))
      adapter.loraB.scalars = Tensor.randn(adapter.loraB.shape, using: &generator).scalars
    }
  }
}
