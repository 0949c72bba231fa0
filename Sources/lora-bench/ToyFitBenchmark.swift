import LoRA

/// The y = Wx + 5 toy fit of `shared/reference/toy_fit.py`, step for step: a frozen
/// 100×100 Linear without bias, A [100, 4] = randn/√4, B [4, 100] = 0, scale α/r = 1/4,
/// X [10, 100], Adam lr 0.1 on A and B, MSE, 100 steps.
struct ToyFit {
  let frozen: Linear
  let a: Tensor
  let b: Tensor
  let x: Tensor
  let target: Tensor
  let scale: Float = 1.0 / 4

  init(seed: UInt64) {
    (frozen, a, b, x, target) = Random.withSeed(seed) {
      let frozen = Linear(100, 100, bias: false)
      frozen.freeze()
      let a = Tensor.randn([100, 4]) / 2
      a.requiresGrad = true
      let b = Tensor.zeros([4, 100], requiresGrad: true)
      let x = Tensor.randn([10, 100])
      let target = withNoGrad { frozen(x) + 5 }
      return (frozen, a, b, x, target)
    }
  }

  func loss() -> Tensor {
    (frozen(x) + x.matmul(a).matmul(b) * scale).mseLoss(target)
  }

  /// Trains for `steps` and returns the loss after the last step.
  func fit(steps: Int = 100) -> Float {
    let optimizer = Adam([a, b], learningRate: 0.1)
    for _ in 0..<steps {
      optimizer.zeroGrad()
      let value = loss()
      value.backward()
      optimizer.step()
    }
    return withNoGrad { loss().item() }
  }
}

/// Median milliseconds of the 100 training steps (set-up excluded, as in the reference) and
/// the final loss of the first run.
func benchmarkToyFit(runs: Int = 11) -> (milliseconds: Double, finalLoss: Float) {
  let clock = ContinuousClock()
  var finalLoss: Float = 0
  var timings: [Double] = []
  for run in 0...runs {
    let problem = ToyFit(seed: 0)
    var loss: Float = 0
    let elapsed = clock.measure { loss = problem.fit() }
    if run == 0 {
      finalLoss = loss  // the first run warms up and is not timed
    } else {
      timings.append(elapsed.seconds * 1000)
    }
  }
  return (median(timings), finalLoss)
}
