import Foundation
import LoRA

/// The pretraining loop both course models share, as nanoGPT's `train.py` runs it: random
/// windows of the training tokens, AdamW with a 5% warm-up and cosine decay to a tenth of
/// the peak rate, gradients clipped to norm 1.
struct TrainingLoop {
  var steps: Int
  var batchSize: Int
  /// Tokens per window.
  var length: Int
  var learningRate: Float
  var seed: UInt64
  /// A progress line every this many steps.
  var reportEvery: Int

  /// Trains `parameters` on windows of `tokens`; `loss` is the model's loss on a batch of
  /// inputs and their next-token targets. `extraReport` may add to a step's progress line
  /// (a held-out loss) and makes the step report when it does.
  ///
  /// - Returns: the mean training loss of the last 50 steps, and the seconds it took.
  func run(
    _ parameters: [Tensor], on tokens: [Int],
    loss: (_ inputs: [[Int]], _ targets: [[Int]]) -> Tensor,
    extraReport: (_ step: Int) -> String? = { _ in nil }
  ) -> (trainLoss: Float, seconds: Double) {
    let optimizer = AdamW(parameters, learningRate: learningRate)
    let schedule = LearningRateSchedule.cosine(
      peak: learningRate, totalSteps: steps, warmupSteps: steps / 20, minimum: learningRate / 10)
    var generator = RandomGenerator(seed: seed)
    var recentLosses: [Float] = []
    let start = Date()
    for step in 0..<steps {
      let (inputs, targets) = batch(
        from: tokens, size: batchSize, length: length, using: &generator)
      optimizer.learningRate = schedule(step)
      optimizer.zeroGrad()
      let stepLoss = loss(inputs, targets)
      stepLoss.backward()
      clipGradNorm(parameters, maxNorm: 1)
      optimizer.step()
      recentLosses = Array((recentLosses + [stepLoss.item()]).suffix(50))
      let extra = extraReport(step)
      if step % reportEvery == 0 || extra != nil {
        say(
          "step \(step): train loss \(String(format: "%.4f", stepLoss.item())), "
            + "\(String(format: "%.0f", Date().timeIntervalSince(start))) s" + (extra ?? ""))
      }
    }
    return (
      recentLosses.reduce(0, +) / Float(recentLosses.count), Date().timeIntervalSince(start)
    )
  }
}

/// `size` random windows of `length + 1` tokens, split into inputs and next-token targets.
func batch(
  from tokens: [Int], size: Int, length: Int, using generator: inout RandomGenerator
) -> (inputs: [[Int]], targets: [[Int]]) {
  let starts = (0..<size).map { _ in Int(generator.next() % UInt64(tokens.count - length - 1)) }
  return (
    starts.map { Array(tokens[$0..<($0 + length)]) },
    starts.map { Array(tokens[($0 + 1)..<($0 + length + 1)]) }
  )
}

/// Prints a line at once, even when standard output is a file or a pipe.
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
