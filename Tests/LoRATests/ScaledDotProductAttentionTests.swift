import Testing

@testable import LoRA

@Suite("Scaled dot-product attention")
struct ScaledDotProductAttentionTests {
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
        ? Tensor.scaledDotProductAttention(
          .separate(query: q, key: k, value: v), scale: scale, dropout: p)
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
      Tensor.scaledDotProductAttention(
        .separate(query: inputs[0], key: inputs[1], value: inputs[2]), scale: 0.7)
    }
  }

  @Test func laterPositionsDoNotReachEarlierOutputs() {
    let (q, k, v) = (
      parameter([2, 80, 4], seed: 1), parameter([2, 80, 4], seed: 2),
      parameter([2, 80, 4], seed: 3)
    )
    let before = Tensor.scaledDotProductAttention(.separate(query: q, key: k, value: v), scale: 0.5)
    for i in 70 * 4..<80 * 4 {
      k.scalars[i] += 1
      v.scalars[i + 80 * 4] -= 2
    }
    let after = Tensor.scaledDotProductAttention(.separate(query: q, key: k, value: v), scale: 0.5)
    for head in 0..<2 {
      let rows = head * 320..<(head * 320 + 280)
      #expect(Array(before.scalars[rows]) == Array(after.scalars[rows]))
    }
  }

  /// The count is of the multiply-adds done: with BLAS, the blocks' whole products; with
  /// the native block products, which skip the tiles above the diagonal, fewer, and never
  /// fewer than the causal triangle itself.
  @Test func countsTheProductsItRuns() {
    let (q, k, v) = (
      Tensor.randn([3, 150, 8]), Tensor.randn([3, 150, 8]), Tensor.randn([3, 150, 8])
    )
    let start = MatrixProductCount.onThisThread
    _ = Tensor.scaledDotProductAttention(.separate(query: q, key: k, value: v), scale: 1)
    let counted = MatrixProductCount.onThisThread - start
    // Two products (q·kᵀ, weights·v) of 3 heads of size 8, 2 FLOPs a multiply-add.
    let perPair = 2 * 2 * 3 * 8
    // Blocks of 64, 64 and 22 queries, seeing 64, 128 and 150 keys.
    let blocks = perPair * (64 * 64 + 64 * 128 + 22 * 150)
    let triangle = perPair * (150 * 151 / 2)
    if ElementKernels.native {
      #expect(counted >= triangle && counted < blocks, "\(triangle) ≤ \(counted) < \(blocks)")
    } else {
      #expect(counted == blocks)
    }
  }

  /// The heads cut out of `projected` with slices, attended as one `[B·H, T, D]` batch
  /// (batch row by batch row, so that dropout draws the same masks), and joined back into
  /// `[B, T, H·D]`: the composition the in-place form replaces.
  func cutOutAndJoined(
    _ projected: Tensor, _ columns: QKVColumns, scale: Float, dropout p: Float
  ) -> Tensor {
    let (batch, length) = (projected.shape[0], projected.shape[1])
    let (heads, size) = (columns.heads, columns.size)
    func items(_ first: Int) -> Tensor {
      let perHead = (0..<heads).map { head in
        projected.slice(
          axis: -1, (first + head * columns.headStride)..<(first + head * columns.headStride + size)
        )
        .reshaped([batch, length, 1, size])
      }
      return Tensor.concatenate(perHead, axis: 2).permuted([0, 2, 1, 3])
        .reshaped([batch * heads, length, size])
    }
    let attended = Tensor.scaledDotProductAttention(
      .separate(query: items(columns.query), key: items(columns.key), value: items(columns.value)),
      scale: scale, dropout: p)
    return attended.reshaped([batch, heads, length, size]).permuted([0, 2, 1, 3])
      .reshaped([batch, length, heads * size])
  }

  @Test(
    "attention read in place from a fused projection equals the heads cut out and joined",
    arguments: [
      (QKVColumns.grouped(heads: 3, size: 8), 24 * 3),
      (QKVColumns.headByHead(heads: 4, size: 5), 60),
      // Two columns before the heads and one after that no head reads: their gradient is 0.
      (QKVColumns(heads: 2, size: 4, query: 2, key: 10, value: 18, headStride: 4), 27),
    ])
  func projectedAttentionEqualsTheHeadsCutOut(columns: QKVColumns, width: Int) {
    for p: Float in [0, 0.3] {
      var generator = RandomGenerator(seed: 11)
      let input = Tensor.randn([2, 70, width], using: &generator)
      let weights = Tensor.randn([2, 70, columns.heads * columns.size], using: &generator)
      func run(inPlace: Bool) -> [[Float]] {
        let x = Tensor(shape: input.shape, scalars: input.scalars, requiresGrad: true)
        let output = Random.withSeed(7) {
          inPlace
            ? Tensor.scaledDotProductAttention(
              .packed(x, columns: columns), scale: 0.4, dropout: p)
            : cutOutAndJoined(x, columns, scale: 0.4, dropout: p)
        }
        (output * weights).sum().backward()
        return [output.scalars, x.grad!.scalars]
      }
      let (inPlace, reference) = (run(inPlace: true), run(inPlace: false))
      #expect(isClose(inPlace[0], reference[0]), "output, dropout \(p), \(columns)")
      #expect(isClose(inPlace[1], reference[1]), "gradient, dropout \(p), \(columns)")
      let unread = Set(0..<width).subtracting(columns.ranges.joined())
      let unreadGradients = inPlace[1].indices.filter { unread.contains($0 % width) }
        .map { inPlace[1][$0] }
      #expect(unreadGradients.allSatisfy { $0 == 0 })
      #expect(unreadGradients.count == (unread.count * 2 * 70))
    }
  }

  @Test func projectedAttentionGradientsMatchFiniteDifferences() {
    let columns = QKVColumns(heads: 2, size: 3, query: 1, key: 7, value: 13, headStride: 3)
    checkGradients([parameter([2, 5, 20], seed: 8)]) { inputs in
      Tensor.scaledDotProductAttention(.packed(inputs[0], columns: columns), scale: 0.7)
    }
  }

  @Test func layoutsThatCannotBeReadAreNamed() {
    #expect(QKVColumns.grouped(heads: 4, size: 8).problem(width: 96) == nil)
    #expect(QKVColumns.headByHead(heads: 4, size: 8).problem(width: 96) == nil)
    #expect(QKVColumns.grouped(heads: 4, size: 8).covers(width: 96))
    #expect(
      QKVColumns.grouped(heads: 4, size: 8).problem(width: 95)
        == "columns 88..<96 fall outside the projection's 95")
    let overlapping = QKVColumns(heads: 2, size: 4, query: 0, key: 6, value: 12, headStride: 3)
    #expect(overlapping.problem(width: 24) == "columns 0..<4 and 3..<7 overlap")
  }
}
