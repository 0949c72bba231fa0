import ArgumentParser
import Foundation
import LoRA

/// One GPT-2 configuration, in a process of its own, as `shared/reference/gpt2_peft_bench.py`
/// measures it: random weights and token ids; a step is the forward pass with labels
/// (shifted cross-entropy), backward, AdamW (lr 2e-4) and zeroing the gradients; dropout as
/// the config says (0.1), as in a real fine-tune. LoRA as the Russian overview configures it: r 8, α 16,
/// dropout 0.05 on `c_attn`.
struct GPT2Step: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gpt2-step", abstract: "Time one GPT-2 configuration (run by the benchmark).",
    shouldDisplay: false)

  @Option var size: Size = .small
  @Option var mode: GPTStep.TrainingMode = .lora
  @Option var batch = 4
  @Option var seq = 128
  @Option var steps = 10
  @Option var warmup = 2
  @Option(help: "Time greedy generation of this many tokens instead of training.")
  var generate = 0
  @Option var prompt = 16
  @Option(help: "nf4: load the 4-bit GPT-2 small that gpt2_4bit_bench.py saved in --folder.")
  var quant = "none"
  @Option(help: "Where gpt2_4bit_bench.py saved its folders.")
  var folder = "/tmp/lora-bench-gpt2"

  enum Size: String, ExpressibleByArgument, CaseIterable {
    case small, tiny
    /// The shapes of `gpt2_peft_bench.py`'s sizes.
    var config: GPT2Config {
      switch self {
      case .small: return GPT2Config()
      case .tiny:
        return GPT2Config(vocabSize: 2048, nPositions: 256, nEmbd: 256, nLayer: 4, nHead: 4)
      }
    }
  }

  func run() throws {
    Random.seed(0)
    let model =
      quant == "nf4"
      ? try GPT2.load(from: URL(fileURLWithPath: folder).appendingPathComponent("nf4"))
      : GPT2(size.config)
    let config = model.config
    var generator = RandomGenerator(seed: 0)
    if generate > 0 {
      let context = (0..<prompt).map { _ in Int(generator.next() % UInt64(config.vocabSize)) }
      _ = model.generate(context: context, maxNewTokens: 2, temperature: 0)
      let clock = ContinuousClock()
      let timings = (0..<3).map { _ in
        clock.measure {
          _ = model.generate(context: context, maxNewTokens: generate, temperature: 0)
        }
        .seconds
      }
      let bytes = weightBytesReadPerToken(model)
      print(
        "median_s=\(median(timings)) peak_rss_MiB=\(peakResidentMiB()) "
          + "weight_MB_per_token=\(Double(bytes) / 1e6) "
          + "weight_GB_per_s=\(Double(bytes) * Double(generate) / median(timings) / 1e9)")
      return
    }
    if mode == .lora {
      try applyLoRA(
        to: model,
        config: AdapterConfig(
          r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: .names(["c_attn"])))
    }
    let report = parameterReport(model)
    let optimizer = AdamW(model.trainableParameters, learningRate: 2e-4)
    let ids = (0..<batch).map { _ in
      (0..<seq).map { _ in Int(generator.next() % UInt64(config.vocabSize)) }
    }
    let clock = ContinuousClock()
    var timings: [Double] = []
    var lastLoss: Float = 0
    var stepFLOPs = 0
    for step in 0..<(warmup + steps) {
      let counted = MatrixProductCount.onThisThread
      let elapsed = clock.measure {
        let loss = model.forward(ids, labels: ids).loss!
        loss.backward()
        optimizer.step()
        optimizer.zeroGrad()
        lastLoss = loss.item()
      }
      if step >= warmup { timings.append(elapsed.seconds) }
      stepFLOPs = MatrixProductCount.onThisThread - counted
    }
    let stepSeconds = median(timings)
    print(
      "step_ms_median=\(stepSeconds * 1000) tok_per_s=\(Double(batch * seq) / stepSeconds) "
        + "params_total=\(report.total) params_trainable=\(report.trainable) "
        + "loss_last=\(lastLoss) peak_rss_MiB=\(peakResidentMiB()) "
        + "gflop_step=\(Double(stepFLOPs) / 1e9)")
  }
}

/// The bytes of weights one generated token reads: every linear layer's weight (packed, for a
/// 4-bit one) and bias, the layer norms, and one row of each embedding.
func weightBytesReadPerToken(_ model: GPT2) -> Int {
  var bytes = 0
  for (_, module) in model.namedModules {
    switch module {
    case let layer as Linear:
      bytes +=
        layer.quantizedWeight?.byteCount ?? layer.eightBitWeight?.byteCount
        ?? layer.inFeatures * layer.outFeatures * 4
      bytes += (layer.bias?.count ?? 0) * 4
    case let norm as LayerNorm: bytes += (norm.weight.count + norm.bias.count) * 4
    case let embedding as Embedding: bytes += embedding.weight.shape[1] * 4
    default: break
    }
  }
  return bytes
}

/// The GPT-2 rows: ours and `gpt2_peft_bench.py`'s, `repeats` processes of each in turn.
func benchmarkGPT2(
  python: String?, reference: String, threads: Int, repeats: Int, limit: MachineLimit
) -> [MarkdownTable] {
  let sides = SideBySide(
    subcommand: "gpt2-step", script: reference + "/gpt2_peft_bench.py", python: python,
    threads: threads, repeats: repeats)
  let compare = sides.compare
  var steps = MarkdownTable(
    "size", "mode", "ms/step", "PyTorch ms/step", "speed-up", "GFLOP/step", "floor ms",
    "× floor", "trainable params", "peak RSS MiB", "PyTorch peak RSS MiB")
  for (size, mode) in [("small", "lora"), ("tiny", "lora"), ("tiny", "full")] {
    let (ours, theirs) = compare(["--size", size, "--mode", mode, "--batch", "4", "--seq", "128"])
    let combined = (combinedValues(ours), combinedValues(theirs))
    steps.add(
      [
        size, mode, time(ours, "step_ms_median", 1), time(theirs, "step_ms_median", 1),
        speedUp(ours, theirs, "step_ms_median"),
      ] + floorColumns(ours, limit: limit)
        + [
          combined.0["params_trainable"] ?? "—", number(combined.0, "peak_rss_MiB"),
          number(combined.1, "peak_rss_MiB"),
        ])
  }
  var generation = MarkdownTable(
    "size", "new tokens (16-token prompt)", "seconds", "transformers seconds (KV cache)",
    "speed-up")
  let (ours, theirs) = compare(["--size", "small", "--generate", "100", "--prompt", "16"])
  generation.add(
    "small", "100", time(ours, "median_s", 3), time(theirs, "median_s", 3),
    speedUp(ours, theirs, "median_s"))
  return [steps, generation]
    + benchmarkGPT2FourBit(python: python, threads: threads, repeats: repeats)
}

/// The 4-bit rows: GPT-2 small loaded from the folder that transformers saved with
/// bitsandbytes (NF4, double quantization), ours against transformers in fp32 and in 4 bits
/// (`Scripts/reference/gpt2_4bit_bench.py`), for generation and for a QLoRA step's memory.
func benchmarkGPT2FourBit(python: String?, threads: Int, repeats: Int) -> [MarkdownTable] {
  let script = "Scripts/reference/gpt2_4bit_bench.py"
  if let python, !FileManager.default.fileExists(atPath: "/tmp/lora-bench-gpt2/nf4/config.json") {
    _ = runProcess(python, [script, "--prepare"])
  }
  guard FileManager.default.fileExists(atPath: "/tmp/lora-bench-gpt2/nf4/config.json") else {
    print("The 4-bit rows need the folders gpt2_4bit_bench.py --prepare writes (give --python).\n")
    return []
  }
  let sides = SideBySide(
    subcommand: "gpt2-step", script: script, python: python, threads: threads, repeats: repeats)
  var generation = MarkdownTable(
    "size", "weights", "seconds (100 tokens)", "transformers fp32", "transformers 4-bit",
    "speed-up vs fp32", "speed-up vs 4-bit", "weight MB/token", "GB/s of weights",
    "peak RSS MiB", "transformers 4-bit peak RSS MiB")
  let arguments = ["--size", "small", "--generate", "100", "--prompt", "16"]
  let (fp32, theirsFp32) = sides.compare(arguments + ["--quant", "none"])
  let (nf4, theirsNF4) = sides.compare(arguments + ["--quant", "nf4"])
  for (name, ours) in [("fp32", fp32), ("nf4", nf4)] {
    let values = combinedValues(ours)
    generation.add(
      "small", name, time(ours, "median_s", 3), time(theirsFp32, "median_s", 3),
      time(theirsNF4, "median_s", 3), speedUp(ours, theirsFp32, "median_s"),
      speedUp(ours, theirsNF4, "median_s"), number(values, "weight_MB_per_token"),
      number(values, "weight_GB_per_s", 1), number(values, "peak_rss_MiB"),
      number(combinedValues(theirsNF4), "peak_rss_MiB"))
  }
  var memory = MarkdownTable(
    "size", "base", "LoRA ms/step", "peak RSS MiB", "transformers + PEFT ms/step",
    "transformers + PEFT peak RSS MiB")
  for quant in ["none", "nf4"] {
    let (ours, theirs) = sides.compare([
      "--size", "small", "--mode", "lora", "--quant", quant, "--batch", "4", "--seq", "128",
      "--steps", "5",
    ])
    memory.add(
      "small", quant == "nf4" ? "nf4" : "fp32", time(ours, "step_ms_median", 1),
      number(combinedValues(ours), "peak_rss_MiB"), time(theirs, "step_ms_median", 1),
      number(combinedValues(theirs), "peak_rss_MiB"))
  }
  return [generation, memory]
}
