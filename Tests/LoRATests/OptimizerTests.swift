import Testing

@testable import LoRA

/// Three steps from p = [1, -2, 3] with fixed gradients; the expected values are what
/// `torch.optim` (PyTorch 2.15) gives for the same settings.
@Suite("Optimizers follow PyTorch's update rules")
struct OptimizerTests {
  static let gradients: [[Float]] = [[0.1, -0.2, 0.3], [0.5, 0.5, -1.0], [-0.3, 0.2, 0.1]]

  func run(_ makeOptimizer: ([Tensor]) -> any Optimizer) -> [Float] {
    let p = Tensor([1, -2, 3], requiresGrad: true)
    let optimizer = makeOptimizer([p])
    for gradient in Self.gradients {
      p.grad = Tensor(gradient)
      optimizer.step()
    }
    return p.scalars
  }

  @Test func plainSGD() {
    #expect(isClose(run { SGD($0, learningRate: 0.1) }, [0.97, -2.05, 3.06]))
  }

  @Test func sgdWithMomentumDampeningAndWeightDecay() {
    let result = run {
      SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
    }
    #expect(isClose(result, [0.909_158_9, -2.038_696_3, 3.064_774_3]))
  }

  @Test func nesterovSGD() {
    let result = run { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) }
    #expect(isClose(result, [0.887_11, -2.104_720_1, 3.148_83]))
  }

  @Test func adam() {
    #expect(isClose(run { Adam($0, learningRate: 0.1) }, [0.788_942_5, -1.998_515_8, 2.985_977_4]))
  }

  @Test func adamWithL2() {
    let result = run { Adam($0, learningRate: 0.1, weightDecay: 0.1) }
    #expect(isClose(result, [0.762_166_9, -1.888_317_7, 2.898_505_4]))
  }

  @Test func adamWDecouplesWeightDecay() {
    let result = run { AdamW($0, learningRate: 0.1, weightDecay: 0.1) }
    #expect(isClose(result, [0.762_092_6, -1.940_661_7, 2.898_344_3]))
  }

  @Test func frozenParametersGetNoState() {
    let frozen = Tensor([1, 2])
    let trainable = Tensor([3, 4], requiresGrad: true)
    let optimizer = AdamW([frozen, trainable])
    #expect(optimizer.parameters.count == 1)
    #expect(optimizer.stateBytes == 0)
    trainable.grad = Tensor([1, 1])
    optimizer.step()
    #expect(optimizer.stateBytes == 2 * 2 * 4)
    #expect(frozen.scalars == [1, 2])
  }

  @Test func parametersWithoutGradientsAreSkipped() {
    let p = Tensor([1, 2], requiresGrad: true)
    let optimizer = Adam([p], learningRate: 0.1)
    optimizer.step()
    #expect(p.scalars == [1, 2])
  }

  @Test func zeroGradClearsGradients() {
    let p = Tensor([1, 2], requiresGrad: true)
    (p * p).sum().backward()
    let optimizer = SGD([p], learningRate: 0.1)
    optimizer.zeroGrad()
    #expect(p.grad == nil)
  }

  @Test func clippingByGlobalNorm() {
    // Gradients [3, 4] and [12, 0] have global norm 13; clipped to 5 they scale by 5/13.
    let a = Tensor([0, 0], requiresGrad: true)
    let b = Tensor([0, 0], requiresGrad: true)
    a.grad = Tensor([3, 4])
    b.grad = Tensor([12, 0])
    let norm = clipGradNorm([a, b], maxNorm: 5)
    #expect(norm == 13)
    #expect(isClose(a.grad!.scalars, [1.153_846, 1.538_461_4]))
    #expect(isClose(b.grad!.scalars, [4.615_384, 0]))
    // Under the limit nothing changes.
    clipGradNorm([a, b], maxNorm: 100)
    #expect(isClose(a.grad!.scalars, [1.153_846, 1.538_461_4]))
  }

  @Test func warmupThenLinearDecay() {
    let schedule = LearningRateSchedule.warmupLinearDecay(peak: 1, warmupSteps: 10, totalSteps: 110)
    #expect(schedule(0) == 0)
    #expect(schedule(5) == 0.5)
    #expect(schedule(10) == 1)
    #expect(schedule(60) == 0.5)
    #expect(schedule(110) == 0)
    #expect(schedule(200) == 0)
  }

  @Test func cosineSchedule() {
    let schedule = LearningRateSchedule.cosine(peak: 1, totalSteps: 100, minimum: 0.1)
    #expect(schedule(0) == 1)
    #expect(abs(schedule(50) - 0.55) < 1e-6)
    #expect(abs(schedule(100) - 0.1) < 1e-6)
    let warm = LearningRateSchedule.cosine(peak: 2, totalSteps: 20, warmupSteps: 10)
    #expect(warm(5) == 1)
    #expect(warm(10) == 2)
  }

  @Test func scheduleDrivesTheOptimizer() {
    let p = Tensor([0], requiresGrad: true)
    let optimizer = SGD([p], learningRate: 0)
    let schedule = LearningRateSchedule.warmupLinearDecay(peak: 1, warmupSteps: 2, totalSteps: 4)
    for step in 0..<4 {
      optimizer.learningRate = schedule(step)
      p.grad = Tensor([1])
      optimizer.step()
    }
    // Rates 0, 0.5, 1, 0.5 sum to 2.
    #expect(p.scalars == [-2])
  }
}
