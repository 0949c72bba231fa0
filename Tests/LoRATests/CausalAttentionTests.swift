import Testing

@testable import LoRA

@Suite("Fused causal attention")
struct CausalAttentionTests {
  /// The composition the fused operation replaces, as the heads computed it before.
  func unfused(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float, dropout p: Float) -> Tensor {
    q.matmul(k.mT).causalSoftmax(scale: scale).dropout(p).matmul(v)
  }

  /// Output and the three gradients, for the same weighted sum of the output.
  func outputAndGradients(
    heads: Int, length: Int, size: Int, dropout p: Float, fused: Bool
  ) -> [[Float]] {
    let (q, k, v) = (
      parameter([heads, length, size], seed: 1), parameter([heads, length, size], seed: 2),
      parameter([heads, length, size], seed: 3)
    )
    var generator = RandomGenerator(seed: 11)
    let weights = Tensor.randn([heads, length, size], using: &generator)
    let scale = 1 / Float(size).squareRoot()
    let output = Random.withSeed(7) {
      fused
        ? Tensor.causalAttention(query: q, key: k, value: v, scale: scale, dropout: p)
        : unfused(q, k, v, scale: scale, dropout: p)
    }
    (output * weights).sum().backward()
    return [output.scalars, q.grad!.scalars, k.grad!.scalars, v.grad!.scalars]
  }

  @Test(
    "equals the unfused operations, over several blocks of queries and a partial one",
    arguments: [(3, 150, 8), (1, 70, 5), (4, 9, 3), (2, 64, 16)])
  func equalsTheUnfusedOperations(heads: Int, length: Int, size: Int) {
    for p: Float in [0, 0.3] {
      let fused = outputAndGradients(
        heads: heads, length: length, size: size, dropout: p, fused: true)
      let reference = outputAndGradients(
        heads: heads, length: length, size: size, dropout: p, fused: false)
      for (name, index) in [("output", 0), ("dq", 1), ("dk", 2), ("dv", 3)] {
        let difference = zip(fused[index], reference[index]).map { abs($0 - $1) / max(1, abs($1)) }
          .max()!
        #expect(
          difference <= 1e-5,
          "\(name) differs by \(difference) at dropout \(p), shape [\(heads), \(length), \(size)]")
      }
    }
  }

  @Test func gradientsMatchFiniteDifferences() {
    let (q, k, v) = (
      parameter([2, 5, 3], seed: 4), parameter([2, 5, 3], seed: 5), parameter([2, 5, 3], seed: 6)
    )
    checkGradients([q, k, v]) { inputs in
      Tensor.causalAttention(query: inputs[0], key: inputs[1], value: inputs[2], scale: 0.7)
    }
  }

  @Test func laterPositionsDoNotReachEarlierOutputs() {
    let (q, k, v) = (
      parameter([2, 80, 4], seed: 1), parameter([2, 80, 4], seed: 2),
      parameter([2, 80, 4], seed: 3)
    )
    let before = Tensor.causalAttention(query: q, key: k, value: v, scale: 0.5)
    for i in 70 * 4..<80 * 4 {
      k.scalars[i] += 1
      v.scalars[i + 80 * 4] -= 2
    }
    let after = Tensor.causalAttention(query: q, key: k, value: v, scale: 0.5)
    for head in 0..<2 {
      let rows = head * 320..<(head * 320 + 280)
      #expect(Array(before.scalars[rows]) == Array(after.scalars[rows]))
    }
  }

  @Test func countsTheProductsItRuns() {
    let (q, k, v) = (
      Tensor.randn([3, 150, 8]), Tensor.randn([3, 150, 8]), Tensor.randn([3, 150, 8])
    )
    let start = MatrixProductCount.onThisThread
    _ = Tensor.causalAttention(query: q, key: k, value: v, scale: 1)
    // Blocks of 64, 64 and 22 queries, seeing 64, 128 and 150 keys: two products each.
    let rowsTimesKeys = 64 * 64 + 64 * 128 + 22 * 150
    #expect(MatrixProductCount.onThisThread - start == 2 * (2 * 3 * rowsTimesKeys * 8))
  }
}
