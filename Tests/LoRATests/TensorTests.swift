import Foundation
import Testing

@testable import LoRA

@Suite("Tensor values")
struct TensorTests {
  @Test func creation() {
    #expect(Tensor.zeros([2, 3]).scalars == [0, 0, 0, 0, 0, 0])
    #expect(Tensor.ones([2]).scalars == [1, 1])
    #expect(Tensor.full([1, 2], 7).shape == [1, 2])
    #expect(Tensor.arange(5).scalars == [0, 1, 2, 3, 4])
    #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
    let nested = Tensor([[[1, 2]], [[3, 4]]])
    #expect(nested.shape == [2, 1, 2])
    #expect(nested.scalars == [1, 2, 3, 4])
    #expect(Tensor(3).shape == [])
    #expect(Tensor(3).item() == 3)
    #expect(Tensor.tril(3).scalars == [1, 0, 0, 1, 1, 0, 1, 1, 1])
  }

  @Test func uniformStaysInRange() {
    var generator = RandomGenerator(seed: 3)
    let u = Tensor.uniform([10_000], low: -2, high: 3, using: &generator)
    #expect(u.scalars.allSatisfy { $0 >= -2 && $0 < 3 })
    #expect(abs(u.mean().item() - 0.5) < 0.05)
  }

  @Test func normalHasUnitVariance() {
    var generator = RandomGenerator(seed: 4)
    let n = Tensor.randn([20_000], using: &generator)
    let mean = n.mean().item()
    let variance = ((n - mean) * (n - mean)).mean().item()
    #expect(abs(mean) < 0.03)
    #expect(abs(variance - 1) < 0.03)
  }

  @Test func broadcasting() {
    let a = Tensor([[1, 2, 3], [4, 5, 6]])
    #expect((a + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
    #expect((a * Tensor([[2], [3]])).scalars == [2, 4, 6, 12, 15, 18])
    let column = Tensor([[1], [2]])
    let row = Tensor([10, 20, 30])
    let outer = column + row
    #expect(outer.shape == [2, 3])
    #expect(outer.scalars == [11, 21, 31, 12, 22, 32])
    #expect((Tensor.ones([2, 1, 3]) + Tensor.ones([4, 1])).shape == [2, 4, 3])
    #expect((1 - a).scalars == [0, -1, -2, -3, -4, -5])
    #expect((a / 2).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
  }

  @Test func matmulValues() {
    let a = Tensor([[1, 2], [3, 4]])
    let b = Tensor([[5, 6], [7, 8]])
    #expect(a.matmul(b).scalars == [19, 22, 43, 50])
    #expect(a.matmul(Tensor([1, 1])).scalars == [3, 7])
    let batch = Tensor([[[1, 0], [0, 1]], [[2, 0], [0, 2]]])
    #expect(batch.matmul(b).scalars == [5, 6, 7, 8, 10, 12, 14, 16])
    #expect(a.linear(weight: b, bias: Tensor([1, -1])).scalars == [18, 22, 40, 52])
  }

  @Test func shapeOperations() {
    let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    #expect(x.mT.scalars == [1, 4, 2, 5, 3, 6])
    #expect(x.reshaped([3, -1]).shape == [3, 2])
    #expect(x.slice(axis: 1, 1..<3).scalars == [2, 3, 5, 6])
    #expect(Tensor.concatenate([x, x], axis: 0).shape == [4, 3])
    #expect(Tensor.concatenate([x, x], axis: 1).scalars == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
    let cube = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
    let permuted = cube.permuted([2, 0, 1])
    #expect(permuted.shape == [4, 2, 3])
    #expect(permuted.scalars[0..<6] == [0, 4, 8, 12, 16, 20])
    #expect(Tensor([1, 2]).expanded(to: [2, 2]).scalars == [1, 2, 1, 2])
  }

  /// Slices and concatenation large enough to split across the cores, in short runs (a
  /// head's 16 or 32 floats, as a GPT layer cuts them) and long ones: the values land where
  /// they belong, a slice's first gradient is zero outside it, and gradients reaching the
  /// same tensor twice (overlapping slices, one slice concatenated twice) add up.
  @Test func largeSlicesAndConcatenationMoveEveryElement() {
    let x = Tensor(shape: [8, 300, 40], scalars: (0..<96_000).map { Float($0 % 997) })
    x.requiresGrad = true
    let (a, b) = (x.slice(axis: 2, 0..<16), x.slice(axis: 2, 8..<40))
    let joined = Tensor.concatenate([a, b, a], axis: 2)  // [8, 300, 64]
    let weights = Tensor(shape: [8, 300, 64], scalars: (0..<153_600).map { Float($0 % 13) - 6 })
    for row in [0, 1, 1234, 2399] {
      let (source, target) = (x.scalars[(row * 40)...], joined.scalars[(row * 64)...])
      #expect(Array(target.prefix(16)) == Array(source.prefix(16)))
      #expect(Array(target.dropFirst(16).prefix(32)) == Array(source.dropFirst(8).prefix(32)))
      #expect(Array(target.dropFirst(48).prefix(16)) == Array(source.prefix(16)))
    }
    (joined * weights).sum().backward()
    let w = weights.scalars
    let expected = (0..<96_000).map { index -> Float in
      let (row, column) = (index / 40, index % 40)
      var sum: Float = 0
      if column < 16 { sum += w[row * 64 + column] + w[row * 64 + 48 + column] }
      if column >= 8 { sum += w[row * 64 + 16 + column - 8] }
      return sum
    }
    #expect(x.grad!.scalars == expected)

    let y = Tensor(shape: [8, 300, 40], scalars: [Float](repeating: 1, count: 96_000))
    y.requiresGrad = true
    y.slice(axis: 1, 5..<250).sum().backward()
    let inside = (0..<96_000).map { index -> Float in (5..<250).contains(index / 40 % 300) ? 1 : 0 }
    #expect(y.grad!.scalars == inside)
  }

  @Test func reductionValues() {
    let x = Tensor([[1, 5, 3], [4, 2, 6]])
    #expect(x.sum().item() == 21)
    #expect(x.sum(axis: 0).scalars == [5, 7, 9])
    #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
    #expect(x.mean(axis: 1).scalars == [3, 4])
    #expect(x.max(axis: 1).scalars == [5, 6])
    #expect(x.max().item() == 6)
    #expect(x.argmax() == [1, 2])
  }

  @Test func activationsMatchPyTorch() {
    let x = Tensor([[0.5, -1, 2], [3, 0, -0.5]])
    #expect(
      isClose(
        x.gelu().scalars,
        [0.345_731_23, -0.158_655_26, 1.954_499_7, 2.995_949_7, 0, -0.154_268_77]))
    // gelu(x, approximate='tanh'), GPT-2's gelu_new, from PyTorch 2.13.
    #expect(
      isClose(
        x.geluTanh().scalars,
        [0.345_714_2, -0.158_808, 1.954_597_7, 2.996_362_7, 0, -0.154_285_8]))
    // Against libm's tanh over a wide range, every value within float32 rounding.
    let wide = Tensor((0...4000).map { Float($0 - 2000) / 166.666_67 })
    let reference = wide.scalars.map { x in
      0.5 * x * (1 + Foundation.tanh(0.797_884_56 * (x + 0.044_715 * x * x * x)))
    }
    #expect(
      zip(wide.geluTanh().scalars, reference).allSatisfy { abs($0 - $1) <= 2e-6 * max(1, abs($1)) })
    #expect(isClose(Tensor([0]).sigmoid().scalars, [0.5]))
    #expect(isClose(Tensor([0, 1]).relu().scalars, [0, 1]))
    #expect(
      isClose(
        x.softmax(axis: 0).scalars,
        [0.075_858_18, 0.268_941_43, 0.924_141_8, 0.924_141_8, 0.731_058_6, 0.075_858_18]))
    #expect(
      isClose(
        x.layerNorm(weight: nil, bias: nil).scalars,
        [0, -1.224_740_7, 1.224_740_7, 1.401_823_2, -0.539_162_76, -0.862_660_35], tolerance: 1e-4))
    #expect(abs(x.crossEntropy([2, 0]).item() - 0.159_128_98) < 1e-6)
  }

  @Test func softmaxIsStableForLargeInputs() {
    let y = Tensor([1000, 1000, -1000]).softmax()
    #expect(isClose(y.scalars, [0.5, 0.5, 0]))
    let logY = Tensor([1000, 0]).logSoftmax()
    #expect(logY.scalars.allSatisfy { $0.isFinite })
    let masked = Tensor([[1, 2], [3, 4]]).maskedFill(1 - Tensor.tril(2), -.infinity).softmax()
    #expect(isClose(masked.scalars, [1, 0, 0.268_941_43, 0.731_058_6]))
  }

  @Test func dropoutKeepsTheExpectation() {
    var generator = RandomGenerator(seed: 9)
    let x = Tensor.ones([10_000])
    let dropped = x.dropout(0.25, using: &generator)
    let zeros = dropped.scalars.filter { $0 == 0 }.count
    #expect(abs(Float(zeros) / 10_000 - 0.25) < 0.02)
    #expect(dropped.scalars.allSatisfy { $0 == 0 || abs($0 - 4 / 3) < 1e-6 })
    #expect(x.dropout(0.25, training: false, using: &generator) === x)
  }

  @Test func printsLikePyTorch() {
    #expect(
      Tensor([[0.1234, 5], [2, -1]]).description
        == "tensor([[ 0.1234,  5.0000],\n        [ 2.0000, -1.0000]], shape: [2, 2])")
    #expect(Tensor([1, 2, 3]).description == "tensor([1., 2., 3.], shape: [3])")
    #expect(Tensor(2.5).description == "tensor(2.5000, shape: [])")
    #expect(
      Tensor([[0.1234, 5], [0.00001, 2]]).description
        == "tensor([[1.2340e-01, 5.0000e+00],\n        [1.0000e-05, 2.0000e+00]], shape: [2, 2])")
    let large = Tensor.arange(2000).reshaped([2, 1000])
    #expect(
      large.description
        == "tensor([[   0.,    1.,    2., ...,  997.,  998.,  999.],\n"
        + "        [1000., 1001., 1002., ..., 1997., 1998., 1999.]], shape: [2, 1000])")
    #expect(Tensor([1], requiresGrad: true).description.hasSuffix("requiresGrad: true)"))
  }
}

@Suite("Autograd")
struct AutogradTests {
  @Test func gradientsAccumulateUntilZeroed() {
    let x = Tensor([1, 2, 3], requiresGrad: true)
    (x * x).sum().backward()
    (x * x).sum().backward()
    #expect(x.grad!.scalars == [4, 8, 12])
    x.zeroGrad()
    (x * 3).sum().backward()
    #expect(x.grad!.scalars == [3, 3, 3])
  }

  @Test func noGradRecordsNothing() {
    let x = Tensor([1, 2], requiresGrad: true)
    let y = withNoGrad { x * 2 }
    #expect(!y.requiresGrad)
    #expect(y.isLeaf)
    #expect((x * 2).requiresGrad)
  }

  @Test func detachCutsTheGraph() {
    let x = Tensor([1, 2], requiresGrad: true)
    let y = (x * 2).detach()
    #expect(!y.requiresGrad)
    let z = (x * y).sum()
    z.backward()
    #expect(x.grad!.scalars == [2, 4])
  }

  @Test func frozenLeavesGetNoGradient() {
    let frozen = Tensor([1, 2])
    let trainable = Tensor([3, 4], requiresGrad: true)
    (frozen * trainable).sum().backward()
    #expect(frozen.grad == nil)
    #expect(trainable.grad!.scalars == [1, 2])
  }

  @Test func intermediateGradientsAreFreed() {
    let x = Tensor([1, 2], requiresGrad: true)
    let hidden = x * 3
    let loss = (hidden * hidden).sum()
    loss.backward()
    #expect(hidden.grad == nil)
    #expect(x.grad!.scalars == [18, 36])
  }

  @Test func retainedGraphCanBeUsedTwice() {
    let x = Tensor([1, 2], requiresGrad: true)
    let loss = (x * x).sum()
    loss.backward(retainGraph: true)
    loss.backward()
    #expect(x.grad!.scalars == [4, 8])
  }

  @Test func explicitGradientForNonScalars() {
    let x = Tensor([1, 2], requiresGrad: true)
    (x * x).backward(Tensor([1, 10]))
    #expect(x.grad!.scalars == [2, 40])
  }

  @Test func deepGraphsDoNotOverflowTheStack() {
    let x = Tensor([1], requiresGrad: true)
    var y = x
    for _ in 0..<20_000 { y = y + 0 }
    y.sum().backward()
    #expect(x.grad!.scalars == [1])
  }
}
