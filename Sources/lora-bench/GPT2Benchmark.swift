import ArgumentParser
import Foundation
import LoRA

/// One GPT-2 configuration, in a process of its own, as `shared/reference/gpt2_peft_bench.py`
/// measures it: random weights and token ids; a step is the forward pass with labels
/// (shifted cross-entropy), backward, AdamW (lr 2e-4) and zeroing the gradients; dropout as
/// the config says (0.1), as in a real fine-tune. LoRA as seed 001 configures it: r 8, α 16,
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
    let config = size.config
    let model = GPT2(config)
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
      print("median_s=\(median(timings)) peak_rss_MiB=\(peakResidentMiB())")
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
}
