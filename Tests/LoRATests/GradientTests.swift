import Testing

@testable import LoRA

/// A finite-difference check of the gradient of every differentiable operation.
@Suite("Gradients match finite differences")
struct GradientTests {
  @Test(
    "add, subtract, multiply, divide with broadcasting",
    arguments: [
      ([2, 3], [2, 3]), ([2, 3], [3]), ([2, 1], [1, 3]), ([4, 1, 3], [2, 1]), ([3], []),
    ])
  func arithmetic(shapes: ([Int], [Int])) {
    let a = parameter(shapes.0, seed: 1)
    let b = parameter(shapes.1, seed: 2, scale: 0.3, offset: 2)  // away from 0 for division
    checkGradients([a, b]) { $0[0] + $0[1] }
    checkGradients([a, b]) { $0[0] - $0[1] }
    checkGradients([a, b]) { $0[0] * $0[1] }
    checkGradients([a, b]) { $0[0] / $0[1] }
  }

  @Test func scalarsAndNegation() {
    let a = parameter([2, 3], seed: 3, offset: 3)
    checkGradients([a]) { -$0[0] * 2 + 1 }
    checkGradients([a]) { 3 - $0[0] / 4 }
    checkGradients([a]) { 2 / $0[0] }
  }

  @Test(
    "matmul",
    arguments: [
      ([3, 4], [4, 5]), ([2, 3, 4], [4, 5]), ([2, 2, 3, 4], [2, 2, 4, 3]),
      ([2, 1, 3, 4], [3, 4, 2]),
      ([4], [4, 2]), ([3, 4], [4]), ([3, 4], [2, 4, 5]),
    ])
  func matmul(shapes: ([Int], [Int])) {
    let a = parameter(shapes.0, seed: 4)
    let b = parameter(shapes.1, seed: 5)
    checkGradients([a, b]) { $0[0].matmul($0[1]) }
  }

  @Test func linear() {
    let x = parameter([2, 3, 4], seed: 6)
    let w = parameter([5, 4], seed: 7)
    let bias = parameter([5], seed: 8)
    checkGradients([x, w, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    checkGradients([x, w]) { $0[0].linear(weight: $0[1]) }
  }

  @Test func shapes() {
    let x = parameter([2, 3, 4], seed: 9)
    checkGradients([x]) { $0[0].reshaped([4, -1]) }
    checkGradients([x]) { $0[0].permuted([2, 0, 1]) }
    checkGradients([x]) { $0[0].transposed(0, 2) }
    checkGradients([x]) { $0[0].mT }
    checkGradients([x]) { $0[0].unsqueezed(1) }
    checkGradients([x]) { $0[0].slice(axis: 1, 1..<3) }
    checkGradients([x]) { $0[0].slice(axis: -1, 0..<1) }
    let y = parameter([3, 1], seed: 10)
    checkGradients([y]) { $0[0].expanded(to: [2, 3, 4]) }
    let z = parameter([2, 2, 4], seed: 11)
    checkGradients([x, z]) { Tensor.concatenate([$0[0], $0[1]], axis: 1) }
  }

  @Test func reductions() {
    let x = parameter([2, 3, 4], seed: 12)
    checkGradients([x]) { $0[0].sum() }
    checkGradients([x]) { $0[0].sum(axis: 1) }
    checkGradients([x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
    checkGradients([x]) { $0[0].mean() }
    checkGradients([x]) { $0[0].mean(axis: -1, keepDims: true) }
    checkGradients([x]) { $0[0].max(axis: 1) }
    checkGradients([x]) { $0[0].max(axis: 2, keepDims: true) }
    checkGradients([x]) { $0[0].max() }
  }

  @Test func elementwise() {
    let x = parameter([3, 4], seed: 13)
    let positive = parameter([3, 4], seed: 14, scale: 0.2, offset: 2)
    checkGradients([x]) { $0[0].exp() }
    checkGradients([positive]) { $0[0].log() }
    checkGradients([positive]) { $0[0].sqrt() }
    checkGradients([positive]) { $0[0].pow(3) }
    checkGradients([positive]) { $0[0].pow(-0.5) }
    checkGradients([x]) { $0[0].tanh() }
    checkGradients([x]) { $0[0].sigmoid() }
    checkGradients([x]) { $0[0].gelu() }
    checkGradients([x]) { $0[0].geluTanh() }
    // ReLU's kink at 0 is kept further from the inputs than the finite-difference step.
    let awayFromZero = Tensor(shape: [6], scalars: [-2, -1, -0.5, 0.5, 1, 2], requiresGrad: true)
    checkGradients([awayFromZero]) { $0[0].relu() }
  }

  @Test("softmax and logSoftmax", arguments: [0, 1, -1])
  func softmax(axis: Int) {
    let x = parameter([3, 4, 5], seed: 15)
    checkGradients([x]) { $0[0].softmax(axis: axis) }
    checkGradients([x]) { $0[0].logSoftmax(axis: axis) }
  }

  @Test func layerNorm() {
    let x = parameter([2, 3, 6], seed: 16)
    let weight = parameter([6], seed: 17, scale: 0.5, offset: 1)
    let bias = parameter([6], seed: 18)
    checkGradients([x, weight, bias]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    checkGradients([x]) { $0[0].layerNorm(weight: nil, bias: nil) }
  }

  @Test func indexing() {
    let table = parameter([5, 3], seed: 19)
    checkGradients([table]) { $0[0].indexSelect([4, 0, 4, 2]) }
    let scores = parameter([2, 4, 4], seed: 20)
    let causal = 1 - Tensor.tril(4)
    checkGradients([scores]) { $0[0].maskedFill(causal, -.infinity).softmax(axis: -1) }
  }

  @Test func dropout() {
    let x = parameter([4, 5], seed: 21)
    checkGradients([x]) { inputs in
      var generator = RandomGenerator(seed: 5)  // the same mask on every evaluation
      return inputs[0].dropout(0.3, using: &generator)
    }
  }

  @Test func losses() {
    let prediction = parameter([4, 3], seed: 22)
    let target = Tensor.randn([4, 3])
    checkGradients([prediction]) { $0[0].mseLoss(target) }
    let logits = parameter([5, 7], seed: 23)
    checkGradients([logits]) { $0[0].crossEntropy([0, 6, 3, 3, 1]) }
    // Ignored rows (−100), into a fresh gradient and then added to one already there.
    checkGradients([logits]) {
      $0[0].crossEntropy([0, -100, 3, -100, 1]) + 0.5 * $0[0].crossEntropy([-100, 6, 3, 3, -100])
    }
  }

  @Test func crossEntropyBackwardWritesOverItsLogitsOnlyWhenNobodyElseHoldsThem() {
    let logits = parameter([5, 7], seed: 26)
    let targets = [0, 6, 3, -100, 1]
    // Dropped after the forward pass, as in a training step: backward may consume them.
    (logits * 2).crossEntropy(targets).backward()
    let consumed = logits.grad!.scalars
    // Held by the caller: they must come out of backward unchanged.
    logits.grad = nil
    let held = logits * 2
    let before = held.scalars
    held.crossEntropy(targets).backward()
    #expect(held.scalars == before)
    #expect(logits.grad!.scalars == consumed)
    // Kept for a second pass: both passes see the logits.
    logits.grad = nil
    let loss = (logits * 2).crossEntropy(targets)
    loss.backward(retainGraph: true)
    loss.backward()
    #expect(isClose(logits.grad!.scalars, consumed.map { 2 * $0 }))
  }

  @Test func ignoredTargetsAreLeftOutOfTheMeanAndGetNoGradient() {
    let logits = parameter([5, 7], seed: 25)
    let loss = logits.crossEntropy([0, -100, 3, -100, 1])
    let kept = Tensor(
      shape: [3, 7], scalars: [0, 2, 4].flatMap { Array(logits.scalars[($0 * 7)..<($0 * 7 + 7)]) })
    #expect(abs(loss.item() - kept.crossEntropy([0, 3, 1]).item()) < 1e-6)
    loss.backward()
    let gradient = logits.grad!.scalars
    #expect(gradient[7..<14].allSatisfy { $0 == 0 } && gradient[21..<28].allSatisfy { $0 == 0 })
    #expect(gradient[0..<7].contains { $0 != 0 })
    #expect(Tensor.zeros([2, 3]).crossEntropy([-100, -100]).item().isNaN, "as PyTorch: 0/0")
  }

  @Test func sharedSubexpressions() {
    // x feeds the graph along three paths; its gradient must sum all of them.
    let x = parameter([3, 3], seed: 24)
    checkGradients([x]) { inputs in
      let h = inputs[0].tanh()
      return h.matmul(h) + h * inputs[0]
    }
  }
}
