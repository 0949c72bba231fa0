// The fast paths of the library live here: BLAS matrix products and the element loops that
// every operation is built from. Loops run over unsafe buffer pointers and take their
// element function as a generic value, so each specialises to a plain loop with no closure
// call and no allocation per element.

internal import CKernels

/// `c = alpha · op(a) · op(b) + beta · c` for row-major matrices, where `op` transposes
/// when asked. `m × k` times `k × n` gives `m × n`; leading dimensions are row strides.
func gemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  guard m > 0 && n > 0 else { return }
  guard k > 0 else {
    // BLAS leaves C untouched for k = 0 only when beta is 1; make the empty sum explicit.
    for row in 0..<m {
      for column in 0..<n { c[row * ldc + column] *= beta }
    }
    return
  }
  lora_count_product(m, n, k)
  if m == 1 {
    // A single row (a token in generation): a matrix-vector product reads B once, where
    // sgemm would first copy all of B into its packed layout. Its time is reading B from
    // memory: the native loops stream it on both cores at about 30 GB/s, where OpenBLAS's
    // sgemv reached 19–28 on GPT-2's shapes.
    if ElementKernels.native, alpha == 1, beta == 0 || beta == 1, !transposeA || lda == 1 {
      let accumulate: Int32 = beta == 1 ? 1 : 0
      if transposeB {
        // B is [n, k]: each core takes a contiguous block of B's rows, one output each.
        parallelChunks(n, minimumPerChunk: Swift.max(8, (1 << 15) / k)) { outputs in
          let (start, count) = (outputs.lowerBound, outputs.count)
          lora_matrix_times_vector(b + start * ldb, ldb, a, k, c + start, count, accumulate)
        }
      } else {
        // B is [k, n]: each core takes a contiguous block of B's rows too (a straight
        // stream, which the prefetchers follow best), for a partial sum of every output;
        // the first block's goes into c, the others' beside it, added at the end.
        let chunks = Swift.max(1, Swift.min(Parallel.cores, k * n / (1 << 15), k))
        let rowsPerChunk = (k + chunks - 1) / chunks
        var partial = [Float](repeating: 0, count: (chunks - 1) * n)
        partial.withUnsafeMutableBufferPointer { partial in
          parallelChunks(chunks, minimumPerChunk: 1) { indices in
            for index in indices {
              let first = index * rowsPerChunk
              let rows = Swift.min(k, first + rowsPerChunk) - first
              let output = index == 0 ? c : partial.baseAddress! + (index - 1) * n
              lora_vector_times_matrix(
                a + first, b + first * ldb, ldb, rows, output, n, index == 0 ? accumulate : 0)
            }
          }
          for index in 0..<chunks - 1 {
            addAssign(c, partial.baseAddress! + index * n, count: n)
          }
        }
      }
      return
    }
    // With beta 0 the output may be uninitialised memory, which sgemv would scale rather
    // than overwrite.
    if beta == 0 { c.update(repeating: 0, count: n) }
    BLASLibrary.current.sgemv(
      transpose: !transposeB, rows: transposeB ? n : k, columns: transposeB ? k : n,
      alpha: alpha, a: b, lda: ldb, x: a, incX: transposeA ? lda : 1, beta: beta, y: c)
    return
  }
  // A large product is split between the cores here, each piece a single-threaded sgemm
  // (see `BLASThreads`): along the longer side of C, so that the operand each piece reads
  // whole (and packs again) is the smaller one. Pieces are multiples of 16 rows or columns,
  // the kernels' blocking, so no piece ends in a ragged edge that one whole would not have.
  let cores = BLASThreads.cores
  let splitRows = m >= n
  let side = splitRows ? m : n
  let piece = ((side + cores - 1) / cores + 15) / 16 * 16
  guard cores > 1, m * n * k >= BLASThreads.parallelWork, side > piece else {
    return sgemm(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
      lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
  }
  parallelFor((side + piece - 1) / piece) { index in
    let start = index * piece
    let count = Swift.min(piece, side - start)
    if splitRows {
      sgemm(
        transposeA: transposeA, transposeB: transposeB, m: count, n: n, k: k, alpha: alpha,
        a: transposeA ? a + start : a + start * lda, lda: lda, b: b, ldb: ldb, beta: beta,
        c: c + start * ldc, ldc: ldc)
    } else {
      sgemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: count, k: k, alpha: alpha,
        a: a, lda: lda, b: transposeB ? b + start * ldb : b + start, ldb: ldb, beta: beta,
        c: c + start, ldc: ldc)
    }
  }
}

/// Who runs the products' threads: this library, not the BLAS.
///
/// OpenBLAS's worker threads spin (`sched_yield`) for about 0.1 s after every call before
/// they sleep, so between its products, wherever this library's own threads worked
/// (element loops, softmax rows, the heads of attention), a spinning worker took a share of
/// the cores: 10–16% of a training step's CPU time went to yielding. With OpenBLAS on one
/// thread, `gemm` splits each large product into pieces, one per core, on the library's
/// own pool (`parallelFor`), whose helpers spin for 0.2 ms at most before they sleep.
enum BLASThreads {
  /// The cores products are split between. The BLAS itself runs on one thread from the
  /// moment it is loaded (`BLASLoader`).
  static var cores: Int { Parallel.cores }

  /// The smallest product worth splitting, m·n·k: OpenBLAS's own threshold for threads
  /// (64³); below it, waking a thread costs more than the piece it would take.
  static let parallelWork = 1 << 18
}

/// BLAS's own `sgemm`, as `gemm` describes it, without `gemm`'s count and one-row path: for
/// callers that run products on threads of their own and count them on the thread that
/// asked (`CausalAttention`). `m`, `n` and `k` must be positive.
@inline(__always)
func sgemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  var beta = beta
  if beta == 0 {
    // With beta 0, OpenBLAS first clears C in a loop of one-float stores (its generic
    // `gemm_beta`, 4.5% of the M full step); a memset clears it several times faster, and
    // the kernels then add into it as they would have (the same sums, bit for bit).
    if ldc == n {
      c.update(repeating: 0, count: m * n)
    } else {
      for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
    }
    beta = 1
  }
  BLASLibrary.current.sgemm(
    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
    lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// A function of one element with its derivative, for element-wise operations.
protocol UnaryKernel {
  /// The function's value at `x`.
  func callAsFunction(_ x: Float) -> Float
  /// dy/dx, given both the input `x` and the output `y` (some derivatives are cheaper in y).
  func derivative(x: Float, y: Float) -> Float
  /// Whether `derivative` reads `x`; when it does not, backward keeps only the output.
  var derivativeNeedsInput: Bool { get }
  /// Whether the kernel has eight-lane forms of itself and its derivative, for a function
  /// too involved for the compiler to vectorise on its own (GELU's).
  static var hasVectorForm: Bool { get }
  /// Eight values at once; each lane must equal the one-value result exactly.
  func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float>
  /// Eight derivatives at once, lane for lane equal to `derivative(x:y:)`.
  func derivative(x: SIMD8<Float>, y: SIMD8<Float>) -> SIMD8<Float>
  /// The kernel's native loop (`NativeKernels.swift`), `y[i] = self(x[i])`, if it has one.
  static var nativeLoop: NativeMap? { get }
  /// The native loop of its gradient, `dx[i] += g[i] · self'(x[i])`, if it has one.
  static var nativeGradient: NativeGradient? { get }
}

extension UnaryKernel {
  static var hasVectorForm: Bool { false }
  func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> { fatalError("no vector form") }
  func derivative(x: SIMD8<Float>, y: SIMD8<Float>) -> SIMD8<Float> {
    fatalError("no vector form")
  }
  static var nativeLoop: NativeMap? { nil }
  static var nativeGradient: NativeGradient? { nil }
}

/// A function of two elements, for broadcasting binary operations.
protocol BinaryKernel {
  /// The function's value at `(a, b)`.
  func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// `output[i] = kernel(input[i])`.
@inline(__always)
func applyUnary<K: UnaryKernel>(
  _ kernel: K, _ input: UnsafeBufferPointer<Float>, _ output: UnsafeMutableBufferPointer<Float>
) {
  parallelChunks(input.count, minimumPerChunk: 1 << 14) { range in
    var start = range.lowerBound
    let (x, y) = (input.baseAddress! + start, output.baseAddress! + start)
    if ElementKernels.native, let loop = K.nativeLoop {
      loop(x, y, range.count)
      return
    }
    if K.hasVectorForm {
      start += forEachGroupOfEight(range.count) { i in store8(kernel(load8(x + i)), y + i) }
    }
    for i in start..<range.upperBound { output[i] = kernel(input[i]) }
  }
}

/// `inputGradient[i] += gradient[i] · kernel'(x[i])`; `x` is empty when the kernel does not
/// need it.
@inline(__always)
func accumulateUnaryGradient<K: UnaryKernel>(
  _ kernel: K, x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>,
  gradient: UnsafeBufferPointer<Float>, into inputGradient: UnsafeMutableBufferPointer<Float>
) {
  parallelChunks(y.count, minimumPerChunk: 1 << 14) { range in
    // A native gradient reads x, which is kept only when the derivative needs it.
    if ElementKernels.native, kernel.derivativeNeedsInput, let loop = K.nativeGradient {
      let start = range.lowerBound
      loop(
        x.baseAddress! + start, gradient.baseAddress! + start,
        inputGradient.baseAddress! + start, range.count)
      return
    }
    if K.hasVectorForm {
      var start = range.lowerBound
      let (xs, ys, gs, dx) = (
        x.baseAddress! + start, y.baseAddress! + start, gradient.baseAddress! + start,
        inputGradient.baseAddress! + start
      )
      start += forEachGroupOfEight(range.count) { i in
        let derivative = kernel.derivative(
          x: kernel.derivativeNeedsInput ? load8(xs + i) : SIMD8(), y: load8(ys + i))
        store8(load8(dx + i) + load8(gs + i) * derivative, dx + i)
      }
      for i in start..<range.upperBound {
        inputGradient[i] +=
          gradient[i] * kernel.derivative(x: kernel.derivativeNeedsInput ? x[i] : 0, y: y[i])
      }
    } else if kernel.derivativeNeedsInput {
      for i in range { inputGradient[i] += gradient[i] * kernel.derivative(x: x[i], y: y[i]) }
    } else {
      for i in range { inputGradient[i] += gradient[i] * kernel.derivative(x: 0, y: y[i]) }
    }
  }
}

/// `output = kernel(a, b)` with `a` and `b` broadcast to `layout.shape`.
@inline(__always)
func applyBinary<K: BinaryKernel>(
  _ kernel: K, _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
  layout: BroadcastLayout, into output: UnsafeMutableBufferPointer<Float>
) {
  var outputOffset = 0
  layout.forEachRow { aOffset, bOffset, length, aStride, bStride in
    let out = output.baseAddress! + outputOffset
    let pa = a.baseAddress! + aOffset
    let pb = b.baseAddress! + bOffset
    switch (aStride, bStride) {
    case (1, 1): for i in 0..<length { out[i] = kernel(pa[i], pb[i]) }
    case (1, 0): for i in 0..<length { out[i] = kernel(pa[i], pb[0]) }
    case (0, 1): for i in 0..<length { out[i] = kernel(pa[0], pb[i]) }
    default: for i in 0..<length { out[i] = kernel(pa[i * aStride], pb[i * bStride]) }
    }
    outputOffset += length
  }
}

/// Adds `source`, shaped like `layout.shape`, into `target` broadcast to that shape: the
/// reverse of broadcasting, which sums over every broadcast dimension.
@inline(__always)
func accumulateBroadcast(
  _ source: UnsafeBufferPointer<Float>, layout: BroadcastLayout,
  into target: UnsafeMutableBufferPointer<Float>
) {
  var sourceOffset = 0
  layout.forEachRow { targetOffset, _, length, targetStride, _ in
    let pt = target.baseAddress! + targetOffset
    let ps = source.baseAddress! + sourceOffset
    if targetStride == 0 {
      pt[0] += vectorSum(ps, count: length)
    } else if targetStride == 1 {
      addAssign(pt, ps, count: length)
    } else {
      for i in 0..<length { pt[i * targetStride] += ps[i] }
    }
    sourceOffset += length
  }
}
