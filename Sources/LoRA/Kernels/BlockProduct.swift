internal import CKernels

/// Where a block product's A is known to be zero, or its C not wanted, so that whole tiles
/// can be skipped: the causal triangle of attention, around the diagonal `t = r + d` (or
/// `j = r + d`).
enum ProductTriangle {
  /// Nothing skipped.
  case full
  /// A(r, t) = 0 for t > r + d: causal weights (or their gradient), by rows.
  case aLower(diagonal: Int)
  /// A(r, t) = 0 for t < r + d: causal weights read transposed.
  case aUpper(diagonal: Int)
  /// C(r, j) is not read for j > r + d, and may be left unwritten there: scores that a
  /// causal softmax reads only up to the diagonal.
  case cLower(diagonal: Int)

  var code: (triangle: Int32, diagonal: Int) {
    switch self {
    case .full: return (Int32(LORA_FULL.rawValue), 0)
    case .aLower(let d): return (Int32(LORA_A_LOWER.rawValue), d)
    case .aUpper(let d): return (Int32(LORA_A_UPPER.rawValue), d)
    case .cLower(let d): return (Int32(LORA_C_LOWER.rawValue), d)
    }
  }
}

/// `c = a · b` (or `c += a · b`, with `accumulate`), for attention's small products on the
/// calling thread: `a` is `m × k` with element `(r, t)` at `a[r · aRow + t · aColumn]`, so
/// either by rows (`aColumn` 1) or transposed (`aRow` 1); `b` is `k × n`, rows `ldb` apart.
/// Returns the multiply-adds done.
///
/// On CPUs with AVX2 and FMA, `lora_block_product`: tiles of 6 × 16 summed in registers,
/// with no packing, skipping the tiles that `triangle` says are zero or unwanted, where
/// OpenBLAS packs both operands of each small product first and computes every tile.
/// Elsewhere BLAS's `sgemm`, whole.
func blockProduct(
  m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRow: Int, aColumn: Int,
  b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
  accumulate: Bool = false, triangle: ProductTriangle = .full
) -> Int {
  guard m > 0 && n > 0 else { return 0 }
  if ElementKernels.native {
    let (code, diagonal) = triangle.code
    return lora_block_product(
      m, n, k, a, aRow, aColumn, b, ldb, c, ldc, accumulate ? 1 : 0, code, diagonal)
  }
  guard k > 0 else {
    if !accumulate { for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) } }
    return 0
  }
  precondition(aRow == 1 || aColumn == 1, "blockProduct: a must be read by rows or columns")
  let transposeA = aColumn != 1
  sgemm(
    transposeA: transposeA, transposeB: false, m: m, n: n, k: k, a: a,
    lda: transposeA ? aColumn : aRow, b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
  return m * n * k
}
