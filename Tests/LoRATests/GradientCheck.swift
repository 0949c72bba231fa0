import Testing

@testable import LoRA

/// Compares the gradients that `backward()` computes for `inputs` with central finite
/// differences of `f`.
///
/// The scalar differentiated is `Σ f(inputs) · w` for fixed random weights `w`, so every
/// output element contributes with a different weight and no Jacobian entry can hide.
/// Sums are taken in Double so that the finite differences are limited by `f` itself.
func checkGradients(
  _ inputs: [Tensor], step: Float = 1e-2, tolerance: Float = 1e-2,
  sourceLocation: SourceLocation = #_sourceLocation,
  _ f: ([Tensor]) -> Tensor
) {
  var generator = RandomGenerator(seed: 1234)
  let probe = f(inputs)
  let weights = (0..<probe.count).map { _ in Double(generator.nextNormal()) }
  func objective() -> Double {
    withNoGrad { zip(f(inputs).scalars, weights).reduce(0) { $0 + Double($1.0) * $1.1 } }
  }

  for input in inputs { input.grad = nil }
  let output = f(inputs)
  let w = Tensor(shape: output.shape, scalars: weights.map(Float.init))
  (output * w).sum().backward()

  for (inputIndex, input) in inputs.enumerated() where input.requiresGrad {
    guard let analytic = input.grad else {
      Issue.record("input \(inputIndex) got no gradient", sourceLocation: sourceLocation)
      continue
    }
    #expect(analytic.shape == input.shape, sourceLocation: sourceLocation)
    for i in 0..<input.count {
      let original = input.scalars[i]
      input.scalars[i] = original + step
      let plus = objective()
      input.scalars[i] = original - step
      let minus = objective()
      input.scalars[i] = original
      let numeric = Float((plus - minus) / (2 * Double(step)))
      let error = abs(numeric - analytic.scalars[i])
      #expect(
        error <= tolerance * max(1, abs(numeric)),
        "input \(inputIndex)[\(i)]: backward \(analytic.scalars[i]), finite difference \(numeric)",
        sourceLocation: sourceLocation)
    }
  }
}

/// A tensor of normal draws that requires grad, from a fixed seed per call site.
func parameter(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
  var generator = RandomGenerator(seed: seed)
  let values = Tensor.randn(shape, using: &generator).scalars.map { $0 * scale + offset }
  return Tensor(shape: shape, scalars: values, requiresGrad: true)
}

/// Whether two arrays agree element by element within `tolerance`.
func isClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}
