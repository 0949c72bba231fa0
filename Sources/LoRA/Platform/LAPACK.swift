import Foundation

/// The two LAPACK factorizations PiSSA and OLoRA start from, from the BLAS library the
/// products run on (OpenBLAS and oneMKL carry LAPACK; BLIS does not). They are the routines
/// `torch.linalg.svd` (`gesdd`) and `torch.linalg.qr` (`geqrf`, `orgqr`) call on the CPU, so
/// the signs of the factors follow the same conventions.
struct LAPACKFunctions: @unchecked Sendable {
  // Fortran's calling convention: every argument by address, matrices by columns, and the
  // length of each character argument appended (gfortran's hidden argument).
  typealias Sgesdd =
    @convention(c) (
      UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafePointer<Int32>,
      UnsafeMutablePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
      UnsafeMutablePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
      UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafePointer<Int32>,
      UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>, Int
    ) -> Void
  typealias Sgeqrf =
    @convention(c) (
      UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
      UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
      UnsafePointer<Int32>, UnsafeMutablePointer<Int32>
    ) -> Void
  typealias Sorgqr =
    @convention(c) (
      UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>,
      UnsafeMutablePointer<Float>, UnsafePointer<Int32>, UnsafePointer<Float>,
      UnsafeMutablePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>
    ) -> Void

  let sgesdd: Sgesdd
  let sgeqrf: Sgeqrf
  let sorgqr: Sorgqr
}

/// A factorization LAPACK could not make, or a BLAS without LAPACK.
public struct FactorizationError: Error, CustomStringConvertible, Equatable {
  /// What went wrong.
  public let description: String
}

extension Tensor {
  /// The thin singular value decomposition of a matrix `[m, n]`, as `torch.linalg.svd(A,
  /// full_matrices=False)` gives it: `u` `[m, k]`, `s` `[k]` in decreasing order, `vh`
  /// `[k, n]`, k = min(m, n), with `A = u · diag(s) · vh`.
  public func singularValueDecomposition() throws -> (u: Tensor, s: Tensor, vh: Tensor) {
    guard rank == 2 else {
      throw FactorizationError(description: "svd: needs a matrix, got shape \(shape)")
    }
    let lapack = try LAPACKFunctions.current()
    let (m, n) = (shape[0], shape[1])
    let k = Swift.min(m, n)
    var a = columnMajor()
    var s = [Float](repeating: 0, count: k)
    var u = [Float](repeating: 0, count: m * k)  // [m, k] by columns
    var vt = [Float](repeating: 0, count: k * n)  // [k, n] by columns
    var iwork = [Int32](repeating: 0, count: 8 * k)
    var (rows, columns, leading, leadingU, leadingVT) = (
      Int32(m), Int32(n), Int32(m), Int32(m), Int32(k)
    )
    var info: Int32 = 0
    func call(_ work: inout [Float], _ size: Int32) {
      var size = size
      lapack.sgesdd(
        "S", &rows, &columns, &a, &leading, &s, &u, &leadingU, &vt, &leadingVT, &work, &size,
        &iwork, &info, 1)
    }
    var query = [Float](repeating: 0, count: 1)
    call(&query, -1)
    var work = [Float](repeating: 0, count: Swift.max(1, Int(query[0])))
    call(&work, Int32(work.count))
    guard info == 0 else {
      throw FactorizationError(
        description: "svd: LAPACK's sgesdd failed (info \(info)) for shape \(shape)")
    }
    return (
      Tensor(shape: [m, k], scalars: rowMajor(u, rows: m, columns: k)), Tensor(s),
      Tensor(shape: [k, n], scalars: rowMajor(vt, rows: k, columns: n))
    )
  }

  /// The reduced QR decomposition of a matrix `[m, n]`, as `torch.linalg.qr(A)` gives it:
  /// `q` `[m, k]` with orthonormal columns and `r` `[k, n]` upper triangular, k = min(m, n).
  public func qrDecomposition() throws -> (q: Tensor, r: Tensor) {
    guard rank == 2 else {
      throw FactorizationError(description: "qr: needs a matrix, got shape \(shape)")
    }
    let lapack = try LAPACKFunctions.current()
    let (m, n) = (shape[0], shape[1])
    let k = Swift.min(m, n)
    var a = columnMajor()
    var tau = [Float](repeating: 0, count: k)
    var (rows, columns, reflectors, leading) = (Int32(m), Int32(n), Int32(k), Int32(m))
    var info: Int32 = 0
    var query = [Float](repeating: 0, count: 1)
    var size: Int32 = -1
    lapack.sgeqrf(&rows, &columns, &a, &leading, &tau, &query, &size, &info)
    var work = [Float](repeating: 0, count: Swift.max(1, Int(query[0]), m, n))
    size = Int32(work.count)
    lapack.sgeqrf(&rows, &columns, &a, &leading, &tau, &work, &size, &info)
    guard info == 0 else {
      throw FactorizationError(
        description: "qr: LAPACK's sgeqrf failed (info \(info)) for shape \(shape)")
    }
    // R: the upper triangle of the first k rows; then Q from the reflectors, in place.
    var r = [Float](repeating: 0, count: k * n)
    for row in 0..<k {
      for column in row..<n { r[row * n + column] = a[row + column * m] }
    }
    var qColumns = reflectors
    lapack.sorgqr(&rows, &qColumns, &reflectors, &a, &leading, &tau, &work, &size, &info)
    guard info == 0 else {
      throw FactorizationError(
        description: "qr: LAPACK's sorgqr failed (info \(info)) for shape \(shape)")
    }
    return (
      Tensor(shape: [m, k], scalars: rowMajor(Array(a.prefix(m * k)), rows: m, columns: k)),
      Tensor(shape: [k, n], scalars: r)
    )
  }

  /// The matrix's elements by columns, as LAPACK reads them.
  private func columnMajor() -> [Float] {
    let (m, n) = (shape[0], shape[1])
    var result = [Float](repeating: 0, count: m * n)
    for row in 0..<m {
      for column in 0..<n { result[row + column * m] = scalars[row * n + column] }
    }
    return result
  }
}

/// A `rows × columns` matrix stored by columns, by rows.
private func rowMajor(_ values: [Float], rows: Int, columns: Int) -> [Float] {
  var result = [Float](repeating: 0, count: rows * columns)
  for row in 0..<rows {
    for column in 0..<columns { result[row * columns + column] = values[row + column * rows] }
  }
  return result
}

extension LAPACKFunctions {
  /// The functions of the BLAS in use, or an error saying that it has none.
  static func current() throws -> LAPACKFunctions {
    guard let functions = BLASLibrary.current.lapack else {
      throw FactorizationError(
        description: "\(BLASLibrary.current.file) has no LAPACK (sgesdd, sgeqrf, sorgqr); "
          + "PiSSA and OLoRA need one: OpenBLAS, the default, and oneMKL have it")
    }
    return functions
  }
}
