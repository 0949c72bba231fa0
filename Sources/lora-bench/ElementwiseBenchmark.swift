import LoRA

/// Memory throughput of element-wise operations and reductions on 1M-element tensors,
/// counting each input read once and the output written once, and each as a share of
/// `a + b`'s, which is as near the memory's speed as an operation gets.
///
/// The share is taken against `a + b` timed just before, trial by trial (the median of five
/// pairs): a shared machine drifts between faster and slower phases over a run, and one
/// `a + b` timed at the start would credit or blame every later operation for the drift.
func benchmarkElementwise(count: Int = 1 << 20) -> MarkdownTable {
  let a = Tensor.randn([count])
  let b = Tensor.randn([count])
  let matrix = Tensor.randn([1024, count / 1024])
  let row = Tensor.randn([count / 1024])
  let floatBytes = Double(MemoryLayout<Float>.size)
  let add: () -> Void = { _ = a + b }
  let cases: [(String, Int, () -> Void)] = [
    ("a + b", 3, add),
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
  for (name, passes, run) in cases {
    var (seconds, shares): ([Double], [Double]) = ([], [])
    for _ in 0..<5 {
      let addSeconds = secondsPerCall(trials: 1, add)
      seconds.append(secondsPerCall(trials: 1, run))
      // Bytes per second against a + b's: (passes / t) / (3 / t₊).
      shares.append(Double(passes) * addSeconds / (3 * seconds.last!))
    }
    let time = median(seconds)
    let rate = Double(passes * count) * floatBytes / time / 1e9
    table.add(name, fixed(time * 1e6, 0), fixed(rate), fixed(median(shares) * 100, 0) + "%")
  }
  return table
}
