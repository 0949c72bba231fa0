import LoRA

/// GFLOP/s of `Tensor.matmul` against a raw `cblas_sgemm` on preallocated buffers, in turn.
func benchmarkMatmul(sizes: [Int]) -> MarkdownTable {
  var table = MarkdownTable("N", "Tensor.matmul GFLOP/s", "raw cblas_sgemm GFLOP/s", "ratio")
  for n in sizes {
    let a = Tensor.randn([n, n])
    let b = Tensor.randn([n, n])
    let flops = 2 * Double(n * n * n)
    let ours = secondsPerCall { _ = a.matmul(b) }
    let raw = rawSgemmSeconds(a.scalars, b.scalars, n)
    table.add(
      "\(n)", fixed(flops / ours / 1e9), fixed(flops / raw / 1e9), fixed(raw / ours * 100, 0) + "%")
  }
  return table
}
