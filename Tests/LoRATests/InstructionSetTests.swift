import Foundation
import Testing

@testable import LoRA

/// Every kernel at every instruction set level this CPU runs (`LORA_ISA`'s levels), on the
/// same inputs: the element loops and their gradients, softmax and cross-entropy, the one-row
/// products of generation, and attention's block products and transposes.
///
/// The levels are switched for the whole process, so the comparison runs in a process of its
/// own (an exit test): no other test's kernels change under it.
@Suite("Kernels at every instruction set level")
struct InstructionSetTests {
  @Test func everyLevelAgrees() async {
    // The first difference of each output is printed to the test's standard error.
    await #expect(processExitsWith: .success) {
      exit(compareLevels() ? 0 : 1)
    }
  }

  @Test func theLimitNeverRaisesTheLevel() async {
    await #expect(processExitsWith: .success) {
      var ok = true
      for level in InstructionSet.allCases {
        InstructionSet.limit(to: level)
        ok = ok && InstructionSet.current == min(level, InstructionSet.cpu)
        ok = ok && ElementKernels.native == (InstructionSet.current >= .avx2)
      }
      InstructionSet.limit(to: nil)
      ok = ok && InstructionSet.current == InstructionSet.cpu
      exit(ok ? 0 : 1)
    }
  }
}

/// The outputs of every kernel path, computed at the current level, in a fixed order.
private func kernelOutputs() -> [(name: String, values: [Float])] {
  Random.seed(7)
  var outputs: [(String, [Float])] = []
  // Wide enough that the loops split across cores, with a ragged last group of lanes.
  let x = Tensor.randn([37, 301]) * 4
  x.requiresGrad = true
  for (name, f) in [
    ("exp", { (t: Tensor) in t.exp() }), ("gelu", { $0.gelu() }), ("gelu_tanh", { $0.geluTanh() }),
    ("softmax", { $0.softmax(axis: -1) }), ("log_softmax", { $0.logSoftmax(axis: -1) }),
  ] {
    x.grad = nil
    let y = f(x)
    (y * Tensor.randn(y.shape)).sum().backward()
    outputs.append((name, y.scalars))
    outputs.append((name + " gradient", x.grad!.scalars))
  }
  x.grad = nil
  let loss = x.crossEntropy((0..<37).map { $0 * 7 % 301 })
  loss.backward()
  outputs.append(("cross-entropy", loss.scalars))
  outputs.append(("cross-entropy gradient", x.grad!.scalars))
  // One row times a weight, both ways round: generation's matrix-vector loops.
  let row = Tensor.randn([1, 512])
  let weight = Tensor.randn([512, 300])
  outputs.append(("row × weight", row.matmul(weight).scalars))
  outputs.append(("row × weightᵀ", row.linear(weight: Tensor.randn([300, 512])).scalars))
  // Attention: block products (causal triangles) and the transposes of keys and values.
  let (q, k, v) = (
    Tensor.randn([2, 45, 32]), Tensor.randn([2, 45, 32]), Tensor.randn([2, 45, 32])
  )
  for t in [q, k, v] { t.requiresGrad = true }
  let attended = Tensor.scaledDotProductAttention(
    .separate(query: q, key: k, value: v), scale: 0.18)
  (attended * Tensor.randn(attended.shape)).sum().backward()
  outputs.append(("attention", attended.scalars))
  for (name, t) in [("query", q), ("key", k), ("value", v)] {
    outputs.append(("attention \(name) gradient", t.grad!.scalars))
  }
  return outputs
}

/// Runs the kernels at each level and compares: AVX-512 against AVX2 bit for bit (the
/// sixteen-lane loops promise the eight-lane loops' bits, and nothing else changes); the
/// portable loops against AVX2 within float32 rounding (the C loops fuse multiply-adds).
/// Prints every difference to standard error.
private func compareLevels() -> Bool {
  let levels = InstructionSet.allCases.filter { $0 <= InstructionSet.cpu }
  var results: [InstructionSet: [(name: String, values: [Float])]] = [:]
  for level in levels {
    InstructionSet.limit(to: level)
    results[level] = kernelOutputs()
  }
  InstructionSet.limit(to: nil)
  var ok = true
  func report(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
    ok = false
  }
  for (wide, narrow, exact) in [
    (InstructionSet.avx512, InstructionSet.avx2, true), (.avx2, .baseline, false),
  ] {
    guard let a = results[wide], let b = results[narrow] else { continue }
    for (x, y) in zip(a, b) {
      for (i, (p, q)) in zip(x.values, y.values).enumerated() {
        let agree =
          exact
          ? p.bitPattern == q.bitPattern
          : abs(p - q) <= 2e-5 * max(1, abs(p)) || (p.isNaN && q.isNaN)
        if !agree {
          report("\(x.name)[\(i)]: \(wide) \(p), \(narrow) \(q)")
          break
        }
      }
    }
  }
  return ok
}
