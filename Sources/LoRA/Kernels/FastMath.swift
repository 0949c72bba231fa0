internal import CKernels
import Foundation

// A branch-free exp and vectorised sums for the element loops. libm's `expf` costs a call
// per element; `fastExp` inlines into the loop with the classic Cephes polynomial, accurate
// to about 1.4 ulp, at about twice the speed.

/// eˣ as e^x = 2^k · e^r, with k = round(x / ln 2) and |r| ≤ ln 2 / 2.
@inline(__always)
func fastExp(_ x: Float) -> Float {
  let lower: Float = -87.336_55  // below: 0 (no subnormals)
  let upper: Float = 88.376_26  // keeps k ≤ 127, so 2^k stays a normal float
  let clamped = x < lower ? lower : (x > upper ? upper : x)
  let shifter: Float = 12_582_912  // 1.5 · 2²³: adding it rounds to the nearest integer
  let shifted = clamped * 1.442_695_04 + shifter
  let k = shifted - shifter
  // Cody–Waite: ln 2 split into an exactly representable head and a small tail.
  let r = clamped - k * 0.693_359_375 + k * 2.121_944_4e-4
  var p: Float = 1.987_569_15e-4
  p = p * r + 1.398_199_950_7e-3
  p = p * r + 8.333_451_907_3e-3
  p = p * r + 4.166_579_589_4e-2
  p = p * r + 1.666_666_545_9e-1
  p = p * r + 5.000_000_120_1e-1
  p = p * r * r + r + 1
  // The low bits of `shifted` hold k; move k + 127 into the exponent field to make 2^k.
  let scale = Float(bitPattern: (shifted.bitPattern &- shifter.bitPattern &+ 127) &<< 23)
  let y = p * scale
  return x < lower ? 0 : (x > 88.722_83 ? .infinity : y)
}

/// `fastExp` on eight lanes at once: the same operations in the same order, so each lane
/// equals the scalar result exactly.
@inline(__always)
func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let lower: Float = -87.336_55
  let upper: Float = 88.376_26
  // `replacing(with:where:)` compiles to vector blends; `clamped` and `pointwiseMax` do not.
  let raised = x.replacing(with: lower, where: x .< lower)
  let clamped = raised.replacing(with: upper, where: raised .> upper)
  let shifter: Float = 12_582_912
  let shifted = clamped * 1.442_695_04 + shifter
  let k = shifted - shifter
  let r = clamped - k * 0.693_359_375 + k * 2.121_944_4e-4
  var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
  p = p * r + 1.398_199_950_7e-3
  p = p * r + 8.333_451_907_3e-3
  p = p * r + 4.166_579_589_4e-2
  p = p * r + 1.666_666_545_9e-1
  p = p * r + 5.000_000_120_1e-1
  p = p * r * r + r + 1
  let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self)
  let exponent = (bits &- shifter.bitPattern &+ 127) &<< 23
  let y = p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
  return y.replacing(with: 0, where: x .< lower).replacing(
    with: .infinity, where: x .> 88.722_83)
}

/// Φ(x), the standard normal distribution's CDF, ½ erfc(−x/√2), on eight lanes, inlined for
/// GELU: libm's `erff` costs a call per element and kept GELU near 1.7 GB/s.
///
/// erfc comes from the Chebyshev fit of Numerical Recipes (`erfcc`), whose fractional
/// error is below 1.2e-7 everywhere, with `fastExp`: Φ is within a few float32 ulp of the
/// exact value on both tails (Φ = 1 − ½ erfc for positive x, ½ erfc for negative), where
/// 1 + erf(x/√2) would lose the left tail to cancellation.
@inline(__always)
func normalCDF(_ x: SIMD8<Float>) -> SIMD8<Float> {
  // Beyond ±14, Φ is 0 or 1 in float32; the clamp keeps ±∞ from making ∞ − ∞.
  let low = x.replacing(with: -14, where: x .< -14)
  let x = low.replacing(with: 14, where: low .> 14)
  let z = x.replacing(with: -x, where: x .< 0) * 0.707_106_78
  let t = 1 / (1 + 0.5 * z)
  var p = SIMD8<Float>(repeating: 0.170_872_77)
  p = p * t - 0.822_152_23
  p = p * t + 1.488_515_87
  p = p * t - 1.135_203_98
  p = p * t + 0.278_868_07
  p = p * t - 0.186_288_06
  p = p * t + 0.096_784_18
  p = p * t + 0.374_091_96
  p = p * t + 1.000_023_68
  p = p * t - 1.265_512_23
  // e^(−x²/2) as e^(−fl(x²)/2) · e^(−residual/2): far out on a tail, x²/2 rounded to a
  // float would carry its rounding error (a few millionths, relative) into the result. The
  // residual x·x − fl(x·x) comes exactly from Dekker's splitting of x into two 12-bit
  // halves (an FMA would do it in one step, but baseline x86-64 has none).
  let square = x * x
  let scaled = 4097 * x
  let high = scaled - (scaled - x)
  let lowPart = x - high
  let residual = ((high * high - square) + 2 * high * lowPart) + lowPart * lowPart
  let halfErfc = 0.5 * t * fastExp(-0.5 * square) * fastExp(p - 0.5 * residual)
  return (1 - halfErfc).replacing(with: halfErfc, where: x .< 0)
}

/// Φ(x) for one value: the eight-lane form's first lane, so that the two never differ
/// (only the few elements after the last group of eight take this path).
@inline(__always)
func normalCDF(_ x: Float) -> Float {
  normalCDF(SIMD8(repeating: x))[0]
}

/// Calls `body` with the start of each whole group of eight among `count` elements, and
/// returns where the rest (fewer than eight) begins: the skeleton of every vector loop
/// here, which then finishes the rest one element at a time, in order, so that results do
/// not depend on how the loop is written.
@inline(__always)
func forEachGroupOfEight(_ count: Int, _ body: (Int) -> Void) -> Int {
  let whole = count & ~7
  var i = 0
  while i < whole {
    body(i)
    i += 8
  }
  return whole
}

/// Eight floats from `pointer`, aligned or not.
@inline(__always)
func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

/// Stores eight floats at `pointer`, aligned or not.
@inline(__always)
func store8(_ values: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: values, as: SIMD8<Float>.self)
}

/// `output[i] = fastExp(scale · (input[i] - shift))` for `count` floats; returns their sum,
/// accumulated in eight lanes. (Softmax's numerator and denominator in one pass.)
@inline(__always)
func storeShiftedExp(
  _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int,
  scale: Float, shift: Float
) -> Float {
  if ElementKernels.native {
    return lora_shifted_exp(input, output, count, scale, shift)
  }
  var lanes = SIMD8<Float>(repeating: 0)
  let rest = forEachGroupOfEight(count) { i in
    let e = fastExp(scale * (load8(input + i) - shift))
    store8(e, output + i)
    lanes += e
  }
  var total = lanes.sum()
  for i in rest..<count {
    output[i] = fastExp(scale * (input[i] - shift))
    total += output[i]
  }
  return total
}

/// One row's softmax, `y[i] = exp(scale · (x[i] − max)) / Σ`, with the max taken as 0 in a
/// row that is all −∞ (fully masked), which keeps exp at 0 rather than NaN from −∞ − (−∞).
@inline(__always)
func softmaxRow(
  _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1
) {
  if ElementKernels.native { return lora_softmax_row(x, y, count, scale) }
  var largest = vectorMax(x, count: count)
  if largest == -.infinity { largest = 0 }
  let total = storeShiftedExp(x, y, count: count, scale: scale, shift: largest)
  scaleInPlace(y, count: count, by: 1 / total)
}

/// log Σ exp(x[i]) over `count` floats, as max + log Σ exp(x[i] − max) (max 0 for a row all
/// −∞); the portable path writes the exponentials into `scratch`, `count` floats.
@inline(__always)
func rowLogSumExp(
  _ x: UnsafePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>
) -> Float {
  if ElementKernels.native { return lora_log_sum_exp(x, count) }
  var largest = vectorMax(x, count: count)
  if largest == -.infinity { largest = 0 }
  return Foundation.log(storeShiftedExp(x, scratch, count: count, scale: 1, shift: largest))
    + largest
}

/// The largest of `count` floats (at least one), compared in eight lanes.
@inline(__always)
func vectorMax(_ values: UnsafePointer<Float>, count: Int) -> Float {
  var lanes = SIMD8<Float>(repeating: -.infinity)
  let rest = forEachGroupOfEight(count) { i in
    let v = load8(values + i)
    lanes = lanes.replacing(with: v, where: v .> lanes)
  }
  var largest = rest > 0 ? lanes.max() : -Float.infinity
  for i in rest..<count { largest = max(largest, values[i]) }
  return largest
}

/// Σ a[i]·b[i] over `count` floats, accumulated in eight lanes.
@inline(__always)
func vectorDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
  var lanes = SIMD8<Float>(repeating: 0)
  let rest = forEachGroupOfEight(count) { i in lanes += load8(a + i) * load8(b + i) }
  var total = lanes.sum()
  for i in rest..<count { total += a[i] * b[i] }
  return total
}

/// `target[i] += source[i]` for `count` floats, eight at a time. (An indexed Swift loop
/// checks its index arithmetic for overflow, which keeps it from vectorising.)
@inline(__always)
func addAssign(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
  let rest = forEachGroupOfEight(count) { i in
    store8(load8(target + i) + load8(source + i), target + i)
  }
  for i in rest..<count { target[i] += source[i] }
}

/// The sum of `count` floats, accumulated in eight lanes so that it vectorises.
@inline(__always)
func vectorSum(_ values: UnsafePointer<Float>, count: Int) -> Float {
  var lanes = SIMD8<Float>(repeating: 0)
  let rest = forEachGroupOfEight(count) { i in lanes += load8(values + i) }
  var total = lanes.sum()
  for i in rest..<count { total += values[i] }
  return total
}

/// Σ (values[i] - mean)², accumulated in eight lanes so that it vectorises.
@inline(__always)
func vectorSumOfSquares(_ values: UnsafePointer<Float>, count: Int, around mean: Float) -> Float {
  var lanes = SIMD8<Float>(repeating: 0)
  let rest = forEachGroupOfEight(count) { i in
    let d = load8(values + i) - mean
    lanes += d * d
  }
  var total = lanes.sum()
  for i in rest..<count { total += (values[i] - mean) * (values[i] - mean) }
  return total
}

/// `values[i] *= factor` for `count` floats, eight at a time.
@inline(__always)
func scaleInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
  let rest = forEachGroupOfEight(count) { i in store8(load8(values + i) * factor, values + i) }
  for i in rest..<count { values[i] *= factor }
}

/// `target[i] += source[i] · factor` for `count` floats, eight at a time.
@inline(__always)
func addScaled(
  _ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int,
  by factor: Float
) {
  let rest = forEachGroupOfEight(count) { i in
    store8(load8(target + i) + load8(source + i) * factor, target + i)
  }
  for i in rest..<count { target[i] += source[i] * factor }
}

/// Softmax's backward for one row: `dx[i] += scale · y[i] · (g[i] − dot)`, where `y` is the
/// softmax, `g` the incoming gradient and `dot` Σ g·y.
@inline(__always)
func accumulateSoftmaxGradient(
  _ dx: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, y: UnsafePointer<Float>,
  count: Int, dot: Float, scale: Float = 1
) {
  let rest = forEachGroupOfEight(count) { i in
    store8(load8(dx + i) + scale * load8(y + i) * (load8(g + i) - dot), dx + i)
  }
  for i in rest..<count { dx[i] += scale * y[i] * (g[i] - dot) }
}

/// Softmax's backward for one row, in place: `g[i] = scale · y[i] · (g[i] − dot)`, where
/// `y` is the softmax, `g` the incoming gradient and `dot` Σ g·y.
@inline(__always)
func softmaxGradientInPlace(
  _ g: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, count: Int, dot: Float,
  scale: Float
) {
  let rest = forEachGroupOfEight(count) { i in
    store8(scale * load8(y + i) * (load8(g + i) - dot), g + i)
  }
  for i in rest..<count { g[i] = scale * y[i] * (g[i] - dot) }
}

/// `values[i] *= factors[i]` for `count` floats, eight at a time.
@inline(__always)
func multiplyInPlace(
  _ values: UnsafeMutablePointer<Float>, by factors: UnsafePointer<Float>, count: Int
) {
  let rest = forEachGroupOfEight(count) { i in
    store8(load8(values + i) * load8(factors + i), values + i)
  }
  for i in rest..<count { values[i] *= factors[i] }
}
