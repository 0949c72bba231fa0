/// Test products for a BLAS's kernels, against a plain sum in double precision.
///
/// Older OpenBLAS builds are known to compute wrong results with some kernel sets on some
/// CPUs, so a set the library switches to is checked before it is used. The shapes reach
/// the kernels' separate paths: a 1 × 1 × 1, edges smaller than a register block, odd sizes
/// in every dimension, tall and skinny and short and wide panels, every transposition, row
/// strides longer than the rows, and alpha and beta other than 1 and 0. The products are
/// small (about 2 MFLOP, well under a millisecond) and their inputs come from a fixed
/// formula, so the check draws nothing from the library's seeded random numbers.
enum BLASSelfTest {
  /// m, n, k, whether A and B are transposed, alpha, beta, and padding added to each
  /// leading dimension.
  static let cases:
    [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, alpha: Float, beta: Float, pad: Int)] = [
      (1, 1, 1, false, false, 1, 0, 0),
      (2, 3, 5, false, false, 1, 0, 0),
      (7, 9, 3, true, false, 1, 0, 1),
      (7, 9, 3, false, true, 1, 0, 0),
      (7, 9, 3, true, true, 1, 0, 3),
      (17, 13, 29, false, false, 0.5, 1, 0),
      (33, 65, 47, false, true, 1, 0, 5),
      (64, 64, 64, true, false, 1, 0, 0),
      (100, 8, 16, false, false, 1, 0, 0),
      (8, 300, 5, false, true, 1, 0, 0),
      (3, 1, 257, false, false, 1, 0, 0),
      (129, 31, 95, true, true, -1.5, 0.25, 2),
      (96, 97, 98, false, false, 1, 0, 0),
    ]

  /// Whether `sgemm` gets every case right to float32 rounding.
  static func passes(_ sgemm: BLASLibrary.Sgemm) -> Bool {
    cases.allSatisfy { check($0, sgemm) }
  }

  /// A deterministic value in [-1, 1) for position `i` of operand `salt`.
  private static func value(_ i: Int, _ salt: Int) -> Float {
    var x = UInt64(truncatingIfNeeded: i &* 2_654_435_761 &+ salt &* 40_503)
    x ^= x >> 13
    x = x &* 0x5bd1_e995
    x ^= x >> 15
    return Float(x % 2048) / 1024 - 1
  }

  private static func check(
    _ c: (m: Int, n: Int, k: Int, ta: Bool, tb: Bool, alpha: Float, beta: Float, pad: Int),
    _ sgemm: BLASLibrary.Sgemm
  ) -> Bool {
    // Stored shapes: A is m × k, or k × m when transposed; B is k × n, or n × k.
    let (aRows, aColumns) = c.ta ? (c.k, c.m) : (c.m, c.k)
    let (bRows, bColumns) = c.tb ? (c.n, c.k) : (c.k, c.n)
    let (lda, ldb, ldc) = (aColumns + c.pad, bColumns + c.pad, c.n + c.pad)
    let a = (0..<aRows * lda).map { value($0, 1) }
    let b = (0..<bRows * ldb).map { value($0, 2) }
    var result = (0..<c.m * ldc).map { value($0, 3) }
    let before = result
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        result.withUnsafeMutableBufferPointer { r in
          sgemm(
            CBLASCode.rowMajor, c.ta ? CBLASCode.transpose : CBLASCode.noTranspose,
            c.tb ? CBLASCode.transpose : CBLASCode.noTranspose, Int32(c.m), Int32(c.n),
            Int32(c.k), c.alpha, a.baseAddress, Int32(lda), b.baseAddress, Int32(ldb), c.beta,
            r.baseAddress, Int32(ldc))
        }
      }
    }
    for i in 0..<c.m {
      for j in 0..<ldc {
        let got = result[i * ldc + j]
        guard j < c.n else {
          // The padding past each row is never written.
          if got != before[i * ldc + j] { return false }
          continue
        }
        var sum = 0.0
        var magnitude = 0.0
        for t in 0..<c.k {
          let x = Double(c.ta ? a[t * lda + i] : a[i * lda + t])
          let y = Double(c.tb ? b[j * ldb + t] : b[t * ldb + j])
          sum += x * y
          magnitude += abs(x * y)
        }
        let expected = Double(c.alpha) * sum + Double(c.beta) * Double(before[i * ldc + j])
        let bound =
          Double(c.k + 2) * 1.2e-7 * (abs(Double(c.alpha)) * magnitude + abs(Double(c.beta)))
          + 1e-30
        if !(abs(Double(got) - expected) <= bound) { return false }
      }
    }
    return true
  }
}
