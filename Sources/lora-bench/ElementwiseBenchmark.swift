import LoRA

/// Memory throughput of element-wise operations and reductions on 1M-element tensors,
/// counting each input read once and the output written once, and each as a share of
/// `a + b`'s, which is as near the memory's speed as an operation gets.
func benchmarkElementwise(count: Int = 1 << 20) -> MarkdownTable {
  let a = Tensor.randn([count])
  let b = Tensor.randn([count])
  let matrix = Tensor.randn([1024, count / 1024])
  let row = Tensor.randn([count / 1024])
  let floatBytes = Double(MemoryLayout<Float>.size)
  let cases: [(String, Int, () -> Void)] = [
    ("a + b", 3, { _ = a + b }),
    ("a * 2", 2, { _ = a * 2 }),
    ("[1024, 1024] + [1024] (broadcast)", 2, { _ = matrix + row }),
    ("exp", 2, { _ = a.exp() }),
    ("relu", 2, { _ = a.relu() }),
    ("gelu", 2, { _ = a.gelu() }),
    ("geluTanh (GPT-2's gelu_new)", 2, { _ = a.geluTanh() }),
    ("sum()", 1, { _ = a.sum() }),
    ("sum(axis: 0) of [1024, 1024]", 1, { _ = matrix.sum(axis: 0) }),
    ("softmax over rows of [1024, 1024]", 2, { _ = matrix.softmax(axis: -1) }),
    ("layerNorm over rows of [1024, 1024]", 2, { _ = matrix.layerNorm(weight: nil, bias: nil) }),
  ]
  var table = MarkdownTable("operation (1M elements)", "time µs", "GB/s", "of a + b")
  var addRate = 0.0
  for (name, passes, run) in cases {
    let seconds = secondsPerCall(run)
    let rate = Double(passes * count) * floatBytes / seconds / 1e9
    if addRate == 0 { addRate = rate }
    table.add(name, fixed(seconds * 1e6, 0), fixed(rate), fixed(rate / addRate * 100, 0) + "%")
  }
  return table
}
