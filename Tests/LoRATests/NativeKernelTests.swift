import CKernels
import Foundation
import Testing

@testable import LoRA

/// The AVX2 and FMA loops (`Sources/CKernels`) against libm in double precision and against
/// the portable Swift loops they stand in for. Skipped on a CPU without AVX2 and FMA, where
/// the library never calls them.
@Suite("Native element loops", .enabled(if: lora_has_avx2_fma() != 0))
struct NativeKernelTests {
  /// x from -100 to 100, both bounds of exp's range, and the values that are special.
  let inputs: [Float] =
    Array(stride(from: Float(-100), through: 100, by: 0.0173))
    + [-87.4, -87.3, 88.3, 88.4, 88.8, 0, -0.0, .infinity, -.infinity, .nan]

  func native(_ loop: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
    var output = [Float](repeating: 0, count: inputs.count)
    loop(inputs, &output, inputs.count)
    return output
  }

  /// On an AVX-512 CPU `exp` and the GELUs run sixteen lanes at a time: every element, NaN,
  /// ±∞, ±0 and `exp`'s edges included, gets the eight-lane loop's bits, at every count (the
  /// masked last group too).
  @Test(.enabled(if: lora_has_avx512() != 0)) func sixteenLanesGiveTheEightLaneBits() {
    for (wide, narrow) in [
      (lora_exp, lora_exp_eight_lanes), (lora_gelu, lora_gelu_eight_lanes),
      (lora_gelu_tanh, lora_gelu_tanh_eight_lanes),
    ] {
      let values = inputs.suffix(10) + inputs  // the special values in every group's reach
      for count in Array(1...40) + [values.count] {
        var (a, b) = ([Float](repeating: 1, count: count), [Float](repeating: 2, count: count))
        wide(Array(values), &a, count)
        narrow(Array(values), &b, count)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "count \(count)")
      }
    }
  }

  @Test func expIsWithinTwoUlpOfLibmAndKeepsTheEdges() {
    let y = native { lora_exp($0, $1, $2) }
    for (x, value) in zip(inputs, y) where x.isFinite && x > -87.3 && x < 88.3 {
      let exact = Foundation.exp(Double(x))
      #expect(abs(Double(value) - exact) / exact < Double(Float.ulpOfOne), "exp(\(x)) = \(value)")
      // The portable loop agrees within the same bound.
      #expect(abs(value - fastExp(x)) <= 2 * fastExp(x).ulp, "exp(\(x))")
    }
    // -87.4, -87.3, 88.3, 88.4, 88.8, 0, -0, ∞, -∞, NaN
    let edges = Array(y.suffix(10))
    #expect(edges[0] == 0 && edges[1] > 0 && edges[4] == .infinity)
    #expect(edges[5] == 1 && edges[6] == 1 && edges[7] == .infinity && edges[8] == 0)
    #expect(edges[9].isNaN)
  }

  /// The last, partial group of eight goes through the same code, padded: an element's
  /// result does not depend on where it stands or how many follow it.
  @Test func theTailMatchesTheBody() {
    let x = (0..<40).map { Float($0) * 0.37 - 7 }
    var whole = [Float](repeating: 0, count: 40)
    lora_exp(x, &whole, 40)
    var gelu = [Float](repeating: 0, count: 40)
    lora_gelu_tanh(x, &gelu, 40)
    for start in 0..<9 {
      for count in 1..<20 {
        var part = [Float](repeating: -1, count: count + 1)
        x.withUnsafeBufferPointer { lora_exp($0.baseAddress! + start, &part, count) }
        #expect(Array(part.prefix(count)) == Array(whole[start..<start + count]))
        #expect(part[count] == -1, "a store past the end")
        x.withUnsafeBufferPointer { lora_gelu_tanh($0.baseAddress! + start, &part, count) }
        #expect(Array(part.prefix(count)) == Array(gelu[start..<start + count]))
      }
    }
  }

  /// Softmax's pass: the sum counts the real elements only, even when the padding lanes
  /// would overflow.
  @Test func shiftedExpSumsOnlyItsElements() {
    for count in 1..<30 {
      let x = (0..<count).map { Float($0) * 0.5 - 3 }
      var y = [Float](repeating: 0, count: count)
      // Padding lanes hold 0, and exp(2 · (0 + 60)) is infinite.
      let total = lora_shifted_exp(x, &y, count, 2, -60)
      #expect(total.isFinite || y.contains(.infinity))
      var expected = [Float](repeating: 0, count: count)
      let plain = lora_shifted_exp(x, &expected, count, 1, 2)
      let sum = expected.reduce(0, +)
      #expect(abs(plain - sum) <= 4 * sum.ulp)
      for (value, xi) in zip(expected, x) {
        #expect(abs(value - fastExp(xi - 2)) <= 2 * value.ulp)
      }
    }
  }

  /// A softmax row, its max and log-sum-exp against double sums, at every length up to past
  /// two groups of eight, with the edge rows: NaN passed over by the max, a fully masked row.
  @Test func softmaxRowsAndLogSumExp() {
    for count in 1..<40 {
      let x = (0..<count).map { Float(($0 * 37) % 23) * 0.9 - 9 }
      var y = [Float](repeating: -1, count: count + 1)
      lora_softmax_row(x, &y, count, 0.5)
      #expect(y[count] == -1, "a store past the end")
      let largest = Double(x.max()!)
      let exps = x.map { Foundation.exp(0.5 * (Double($0) - largest)) }
      let total = exps.reduce(0, +)
      for ((value, e), xi) in zip(zip(y, exps), x) {
        // A few ulp, and the rounding of exp's argument, 0.5 · (x − max).
        let argument = abs(0.5 * (Double(xi) - largest))
        let bound = (4e-7 + argument * 2 * Double(Float.ulpOfOne)) * (e / total)
        #expect(abs(Double(value) - e / total) <= bound, "\(count): \(value)")
      }
      #expect(lora_max(x, count) == x.max()!)
      let logSumExp = Foundation.log(x.map { Foundation.exp(Double($0) - largest) }.reduce(0, +))
      #expect(abs(Double(lora_log_sum_exp(x, count)) - (logSumExp + largest)) <= 2e-6)
    }
    let withNaN: [Float] = [1, .nan, 3, 2, .nan, -1, 0, 0.5, 2.5]
    #expect(lora_max(withNaN, withNaN.count) == 3)
    let masked = [Float](repeating: -.infinity, count: 11)
    #expect(lora_max(masked, masked.count) == -.infinity)
  }

  /// GELU, x·Φ(x) with Φ = ½(1 + erf(x/√2)) as PyTorch computes it, against libm's double
  /// erfc: within 3e-7·max(1, |x|) everywhere, and a few ulp, relative, from x = −1 up (on
  /// the far left tail, where Φ is tiny, 1 + erf keeps PyTorch's absolute error).
  @Test func geluMatchesErfToRounding() {
    let y = native { lora_gelu($0, $1, $2) }
    var (worstAbsolute, worstRelative) = (0.0, 0.0)
    for (x, value) in zip(inputs, y) where x.isFinite && abs(x) <= 12 && x != 0 {
      let exact = Double(x) * 0.5 * Foundation.erfc(-Double(x) / 2.0.squareRoot())
      let error = abs(Double(value) - exact)
      worstAbsolute = max(worstAbsolute, error / max(1, abs(Double(x))))
      if x > -1 { worstRelative = max(worstRelative, error / abs(exact)) }
    }
    #expect(worstAbsolute < 3e-7, "worst error over max(1, |x|): \(worstAbsolute)")
    #expect(worstRelative < 8 * Double(Float.ulpOfOne), "worst relative error \(worstRelative)")
  }

  /// The tanh form against its formula in double: no cancellation on the left tail, native
  /// and portable alike.
  @Test func geluTanhKeepsTheLeftTail() {
    let y = native { lora_gelu_tanh($0, $1, $2) }
    for (x, value) in zip(inputs, y) where x.isFinite && abs(x) <= 9 && x != 0 {
      let xd = Double(x)
      // ½x(1 + tanh u) = x / (1 + e^(−2u)), which double keeps where 1 + tanh u would not.
      let u = 0.797_884_56 * (xd + 0.044_715 * xd * xd * xd)
      let exact = xd / (1 + Foundation.exp(-2 * u))
      // The argument of e^(−2|u|) carries the rounding of u's few operations, a few ulp of
      // |2u|: at x = −9, 1e-5 relative. (1 + tanh u in float32 lost 1e-4 at x = −3.5.)
      let bound = 1e-6 + abs(2 * u) * 4 * Double(Float.ulpOfOne)
      #expect(abs(Double(value) - exact) / abs(exact) < bound, "gelu_tanh(\(x)) = \(value)")
      let portable = GELUTanhKernel()(x)
      #expect(abs(Double(portable) - exact) / abs(exact) < bound, "portable gelu_tanh(\(x))")
    }
  }

  /// Both backward loops add g · f'(x) into what is there, and agree with the Swift
  /// derivatives.
  @Test func gradientsAddTheDerivative() {
    let x = inputs.filter { $0.isFinite && abs($0) < 10 }
    let g = x.indices.map { Float($0 % 7) - 3 }
    let start = x.indices.map { Float($0 % 5) }
    for (loop, kernel):
      (
        (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
        (Float) -> Float
      ) in [
        ({ lora_gelu_backward($0, $1, $2, $3) }, { GELUKernel().derivative(x: $0, y: 0) }),
        ({ lora_gelu_tanh_backward($0, $1, $2, $3) }, { GELUTanhKernel().derivative(x: $0, y: 0) }),
      ]
    {
      var dx = start
      loop(x, g, &dx, x.count)
      for i in x.indices {
        let expected = start[i] + g[i] * kernel(x[i])
        #expect(abs(dx[i] - expected) <= 1e-5 * max(1, abs(expected)), "x = \(x[i])")
      }
    }
  }

  /// Generation's products of one row: x·W for a row-major [k, n] weight and W·x for an
  /// [n, k] one, against double sums, with the tails of both loops (k and n not multiples of
  /// eight) and `accumulate` adding to what is there.
  @Test func matrixVectorProductsMatchDoubleSums() {
    for (k, n) in [(1, 1), (7, 13), (8, 8), (9, 17), (33, 40), (768, 70)] {
      let x = (0..<k).map { Float(($0 * 13) % 7) - 3 }
      let w = (0..<k * n).map { Float(($0 * 29) % 11) * 0.25 - 1.2 }
      let rowTimesWeight = (0..<n).map { j in
        (0..<k).reduce(0.0) { $0 + Double(x[$1]) * Double(w[$1 * n + j]) }
      }
      let weightTimesRow = (0..<n).map { j in
        (0..<k).reduce(0.0) { $0 + Double(w[j * k + $1]) * Double(x[$1]) }
      }
      for accumulate in [false, true] {
        let start: Float = accumulate ? 1.5 : .nan  // beta 0 must overwrite, NaN included
        var y = [Float](repeating: start, count: n)
        lora_vector_times_matrix(x, w, n, k, &y, n, accumulate ? 1 : 0)
        var z = [Float](repeating: start, count: n)
        lora_matrix_times_vector(w, k, x, k, &z, n, accumulate ? 1 : 0)
        for j in 0..<n {
          let base = accumulate ? 1.5 : 0
          #expect(
            abs(Double(y[j]) - (base + rowTimesWeight[j])) <= 1e-5 * Double(k), "x·W \(k)×\(n)")
          #expect(
            abs(Double(z[j]) - (base + weightTimesRow[j])) <= 1e-5 * Double(k), "W·x \(k)×\(n)")
        }
      }
    }
  }

  /// Attention's block products against double sums, at every tile edge (rows 1…13 around
  /// the tiles of 6, columns 1…40 around the groups of 8 and 16, k from 0), A by rows and
  /// transposed, in strided rows whose other columns must stay as they were; and with each
  /// causal triangle, on both sides of the main diagonal, the A that it says is zero made
  /// zero and the C that it says is unwanted not compared.
  @Test func blockProductsMatchDoubleSums() {
    let triangles: [(name: String, code: lora_triangle, diagonal: Int)] =
      [("full", LORA_FULL, 0)]
      + [-3, 0, 5].flatMap { d in
        [("A lower", LORA_A_LOWER, d), ("A upper", LORA_A_UPPER, d), ("C lower", LORA_C_LOWER, d)]
      }
    for m in [1, 2, 5, 6, 7, 12, 13] {
      for n in [1, 3, 8, 9, 15, 16, 17, 24, 31, 32, 40] {
        for k in [0, 1, 4, 33] {
          for (transposed, accumulate) in [
            (false, false), (true, false), (false, true), (true, true),
          ] {
            for triangle in triangles {
              let d = triangle.diagonal
              // A's element (r, t): by rows, rows k + 3 apart; transposed, columns m + 2 apart.
              let (aRow, aColumn) = transposed ? (1, m + 2) : (k + 3, 1)
              var a = (0..<(m + 2) * (k + 3)).map { Float(($0 * 37) % 17) * 0.125 - 1 }
              for r in 0..<m {
                for t in 0..<k
                where (triangle.code == LORA_A_LOWER && t > r + d)
                  || (triangle.code == LORA_A_UPPER && t < r + d)
                {
                  a[r * aRow + t * aColumn] = 0
                }
              }
              let (ldb, ldc) = (n + 5, n + 7)
              let b = (0..<max(k, 1) * ldb).map { Float(($0 * 23) % 13) * 0.25 - 1.5 }
              let start: Float = accumulate ? 0.75 : .nan  // overwritten, NaN included
              var c = [Float](repeating: start, count: m * ldc)
              let work = lora_block_product(
                m, n, k, a, aRow, aColumn, b, ldb, &c, ldc, accumulate ? 1 : 0,
                Int32(triangle.code.rawValue), d)
              let shape = "\(m)×\(n)×\(k), transposed \(transposed), \(triangle.name) \(d)"
              #expect(
                triangle.code == LORA_FULL ? work == m * n * k : work <= m * n * k, "\(shape)")
              for r in 0..<m {
                for j in 0..<ldc {
                  let found = c[r * ldc + j]
                  guard j < n else {
                    #expect(found.bitPattern == start.bitPattern, "past column \(n) changed")
                    continue
                  }
                  if triangle.code == LORA_C_LOWER && j > r + d { continue }
                  let sum = (0..<k).reduce(accumulate ? 0.75 : 0.0) {
                    $0 + Double(a[r * aRow + $1 * aColumn]) * Double(b[$1 * ldb + j])
                  }
                  #expect(
                    abs(Double(found) - sum) <= 1e-5 * Double(max(k, 1)),
                    "\(shape), (\(r), \(j)): \(found), \(sum)")
                }
              }
            }
          }
        }
      }
    }
  }

  /// The transpose attention uses for its keys and values: every shape around the 8 × 8
  /// blocks it moves in registers, from strided rows into strided rows, each element where
  /// it belongs and the padding between the output's rows left as it was.
  @Test func transposesMoveEveryElementAndOnlyThose() {
    for rows in [1, 7, 8, 9, 16, 23] {
      for columns in [1, 5, 8, 11, 16, 32] {
        let (stride, outputStride) = (columns + 3, rows + 5)
        let x = (0..<rows * stride).map { Float($0) }
        var y = [Float](repeating: -1, count: columns * outputStride)
        lora_transpose(x, rows, columns, stride, &y, outputStride)
        for c in 0..<columns {
          for r in 0..<outputStride {
            let expected = r < rows ? x[r * stride + c] : -1
            #expect(y[c * outputStride + r] == expected, "\(rows)×\(columns) at (\(c), \(r))")
          }
        }
      }
    }
  }

  /// Through the tensor API, split across the cores: one token's row gives what the same row
  /// gives in a batch (which goes through sgemm), for `matmul` and for `linear`'s transposed
  /// weight.
  @Test func oneRowMatchesTheBatchedProduct() {
    let (k, n) = (64, 3000)
    let batch = Tensor.randn([3, k])
    let row = Tensor(shape: [1, k], scalars: Array(batch.scalars.prefix(k)))
    let weight = Tensor.randn([k, n])
    let linearWeight = Tensor.randn([n, k])
    for (single, batched) in [
      (row.matmul(weight), batch.matmul(weight)),
      (row.linear(weight: linearWeight), batch.linear(weight: linearWeight)),
    ] {
      for (a, b) in zip(single.scalars, batched.scalars.prefix(n)) {
        #expect(abs(a - b) <= 1e-5 * max(1, abs(b)))
      }
    }
  }

  /// The count a step's floor comes from: 2·m·n·k per product, forward and both gradients.
  @Test func matrixProductsAreCounted() {
    let a = Tensor.randn([3, 4], requiresGrad: true)
    let b = Tensor.randn([4, 5], requiresGrad: true)
    let before = MatrixProductCount.onThisThread
    let product = a.matmul(b)
    #expect(MatrixProductCount.onThisThread - before == 2 * 3 * 4 * 5)
    product.sum().backward()
    #expect(MatrixProductCount.onThisThread - before == 3 * 2 * 3 * 4 * 5)
  }
}
