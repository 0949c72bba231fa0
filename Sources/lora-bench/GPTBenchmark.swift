import ArgumentParser
import Foundation
import LoRA

#if canImport(Glibc)
  import Glibc
#endif

/// One configuration of the GPT benchmark, measured in a process of its own so that its
/// peak memory is its own. Mirrors `shared/reference/gpt_bench.py`: random tokens, AdamW
/// lr 3e-4; with `--mode lora`, the base frozen and rank-4, α 8 adapters on every head's
/// query and value.
struct GPTStep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gpt-step", abstract: "Time one GPT configuration (run by the benchmark).",
    shouldDisplay: false)

  @Option var config: GPTSize = .small
  @Option var mode: TrainingMode = .full
  @Option var steps = 20
  @Option var warmup = 3
  @Option(help: "Time generating this many tokens instead of training.") var generate = 0

  enum GPTSize: String, ExpressibleByArgument, CaseIterable {
    case small = "S", medium = "M", large = "L"
    var config: GPTConfig { [.small: GPTConfig.small, .medium: .medium, .large: .large][self]! }
    var batchSize: Int { 16 }
  }

  enum TrainingMode: String, ExpressibleByArgument, CaseIterable {
    case full, lora
  }

  func run() throws {
    Random.seed(1337)
    let gptConfig = config.config
    let model = GPT(gptConfig)
    if generate > 0 {
      _ = model.generate(context: [0], maxNewTokens: 5, seed: 0)
      let clock = ContinuousClock()
      let timings = (0..<3).map { run in
        clock.measure {
          _ = model.generate(context: [0], maxNewTokens: generate, seed: UInt64(run))
        }
        .seconds
      }
      print("median_s=\(median(timings)) peak_rss_MiB=\(peakResidentMiB())")
      return
    }
    if mode == .lora {
      try applyLoRA(to: model, targets: ["query", "value"], rank: 4, alpha: 8)
    }
    let report = parameterReport(model)
    let optimizer = AdamW(model.parameters, learningRate: 3e-4)
    var generator = RandomGenerator(seed: 0)
    let (batch, length) = (config.batchSize, gptConfig.blockSize)
    func randomTokens() -> [[Int]] {
      (0..<batch).map { _ in
        (0..<length).map { _ in Int(generator.next() % UInt64(gptConfig.vocabSize)) }
      }
    }
    let clock = ContinuousClock()
    var timings: [Double] = []
    var lastLoss: Float = 0
    var stepFLOPs = 0
    for step in 0..<(warmup + steps) {
      let counted = MatrixProductCount.onThisThread
      let x = randomTokens()
      let y = randomTokens()
      let elapsed = clock.measure {
        let (_, loss) = model.forward(x, targets: y)
        optimizer.zeroGrad()
        loss!.backward()
        optimizer.step()
        lastLoss = loss!.item()
      }
      if step >= warmup { timings.append(elapsed.seconds) }
      stepFLOPs = MatrixProductCount.onThisThread - counted
    }
    let stepSeconds = median(timings)
    print(
      "step_ms_median=\(stepSeconds * 1000) tok_per_s=\(Double(batch * length) / stepSeconds) "
        + "params_total=\(report.total) params_trainable=\(report.trainable) "
        + "optimizer_state_bytes=\(optimizer.stateBytes) loss_last=\(lastLoss) "
        + "peak_rss_MiB=\(peakResidentMiB()) blas=\(BLASLibrary.current.kernels ?? BLASLibrary.current.kind.rawValue) "
        + "gflop_step=\(Double(stepFLOPs) / 1e9)")
  }
}

#if os(Linux)
  /// `RUSAGE_SELF`, which Glibc imports as an enum case rather than the `Int32` it takes.
  let rusageSelf = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
  let rusageSelf = RUSAGE_SELF
#endif

/// The process's peak resident memory in MiB.
func peakResidentMiB() -> Double {
  var usage = rusage()
  getrusage(rusageSelf, &usage)
  #if os(Linux)
    return Double(usage.ru_maxrss) / 1024  // KiB on Linux
  #else
    return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
  #endif
}

/// `key=value` pairs from one line of benchmark output.
func keyValues(_ text: String) -> [String: String] {
  var result: [String: String] = [:]
  for field in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
    let parts = field.split(separator: "=", maxSplits: 1)
    if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
  }
  return result
}

/// For each key, the median of its values when they are numbers that differ, else the first;
/// with `fastest`, the smallest such number instead (for times, where noise only adds).
func combinedValues(_ runs: [[String: String]], fastest: Bool = false) -> [String: String] {
  var result: [String: String] = [:]
  for key in Set(runs.flatMap(\.keys)) {
    let values = runs.compactMap { $0[key] }
    let numbers = values.compactMap(Double.init)
    let varies = Set(values).count > 1 && numbers.count == values.count
    let combined = fastest ? numbers.min() : numbers.isEmpty ? nil : median(numbers)
    result[key] = varies ? combined.map { "\($0)" } : values.first
  }
  return result
}

/// Runs this executable's `gpt-step` for every configuration, and the PyTorch reference
/// beside it when a Python is given, each `repeats` times in turn, and tabulates the
/// medians over the processes, times also with the fastest process in brackets.
func benchmarkGPT(
  python: String?, reference: String, threads: Int, repeats: Int, limit: MachineLimit
) -> [MarkdownTable] {
  let sides = SideBySide(
    subcommand: "gpt-step", script: reference + "/gpt_bench.py", python: python,
    threads: threads, repeats: repeats)
  let compare = sides.compare
  var steps = MarkdownTable(
    "config", "mode", "ms/step", "PyTorch ms/step", "vs PyTorch", "GFLOP/step", "floor ms",
    "× floor", "trainable params", "optimizer state MiB", "peak RSS MiB",
    "PyTorch peak RSS MiB")
  for size in GPTStep.GPTSize.allCases {
    for mode in GPTStep.TrainingMode.allCases {
      let (ourRuns, theirRuns) = compare(["--config", size.rawValue, "--mode", mode.rawValue])
      let (ours, theirs) = (combinedValues(ourRuns), combinedValues(theirRuns))
      let stateMiB = ours["optimizer_state_bytes"].flatMap(Double.init).map {
        fixed($0 / 1_048_576, 2)
      }
      steps.add(
        [
          size.rawValue, mode.rawValue, time(ourRuns, "step_ms_median", 1),
          time(theirRuns, "step_ms_median", 1), speedUp(ourRuns, theirRuns, "step_ms_median"),
        ] + floorColumns(ourRuns, limit: limit)
          + [
            ours["params_trainable"] ?? "—", stateMiB ?? "—", number(ours, "peak_rss_MiB"),
            number(theirs, "peak_rss_MiB"),
          ])
    }
  }
  var generation = MarkdownTable(
    "config", "new tokens", "seconds", "PyTorch seconds (no KV cache)", "vs PyTorch")
  let (ours, theirs) = compare(["--config", "L", "--generate", "150"])
  generation.add(
    "L", "150", time(ours, "median_s", 3), time(theirs, "median_s", 3),
    speedUp(ours, theirs, "median_s"))
  return [steps, generation]
}
