import LoRA

#if canImport(Accelerate)
  import Accelerate
#else
  import CBLAS
#endif

/// GFLOP/s of `Tensor.matmul` against a raw `cblas_sgemm` on preallocated buffers, in turn.
func benchmarkMatmul(sizes: [Int]) -> MarkdownTable {
  var table = MarkdownTable("N", "Tensor.matmul GFLOP/s", "raw cblas_sgemm GFLOP/s", "ratio")
  for n in sizes {
    let a = Tensor.randn([n, n])
    let b = Tensor.randn([n, n])
    var c = [Float](repeating: 0, count: n * n)
    let flops = 2 * Double(n * n * n)
    let ours = secondsPerCall { _ = a.matmul(b) }
    let raw = secondsPerCall {
      a.scalars.withUnsafeBufferPointer { pa in
        b.scalars.withUnsafeBufferPointer { pb in
          c.withUnsafeMutableBufferPointer { pc in
            cblas_sgemm(
              CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
              pa.baseAddress, Int32(n), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
          }
        }
      }
    }
    table.add(
      "\(n)", fixed(flops / ours / 1e9), fixed(flops / raw / 1e9), fixed(raw / ours * 100, 0) + "%")
  }
  return table
}
