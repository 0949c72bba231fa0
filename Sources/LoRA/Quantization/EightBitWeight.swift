/// A frozen weight stored in 8 bits, as bitsandbytes' `Linear8bitLt` (LLM.int8, Dettmers et
/// al., 2022) stores it: each row of `[out, in]` as int8 codes of the row scaled by its
/// largest magnitude (`SCB`), read back as `code · SCB / 127`.
///
/// bitsandbytes' own forward also quantizes the activations (with the outliers above
/// `llm_int8_threshold` kept in half precision); this library keeps the activations in
/// float32 and dequantizes the weight, so its products are the weight's exactly.
public struct EightBitWeight: Sendable, Equatable {
  /// `[out, in]`.
  public let shape: [Int]
  /// The codes, row-major, −127…127.
  public let codes: [Int8]
  /// Each row's largest magnitude (bitsandbytes' `SCB`).
  public let rowScales: [Float]

  /// The number of weights.
  public var count: Int { shape[0] * shape[1] }
  /// The bytes it takes in memory: a byte per weight and a float per row.
  public var byteCount: Int { codes.count + 4 * rowScales.count }

  /// Wraps stored parts, checking that they fit together.
  ///
  /// - Throws: `QuantizationError` naming `name` when the codes or the scales do not fit
  ///   the shape, or a scale is not finite.
  public init(shape: [Int], codes: [Int8], rowScales: [Float], name: String = "weight") throws {
    func fail(_ reason: String) -> QuantizationError {
      QuantizationError(tensor: name, reason: reason)
    }
    guard shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
      throw fail("has shape \(shape); an 8-bit weight is a matrix [out, in]")
    }
    let (count, overflows) = shape[0].multipliedReportingOverflow(by: shape[1])
    guard !overflows, codes.count == count else {
      throw fail("holds \(codes.count) codes; shape \(shape) needs one per weight")
    }
    guard rowScales.count == shape[0], rowScales.allSatisfy(\.isFinite) else {
      throw fail("has \(rowScales.count) row scales (SCB) for \(shape[0]) rows, or one not finite")
    }
    self.shape = shape
    self.codes = codes
    self.rowScales = rowScales
  }

  /// Quantizes a float matrix `[out, in]` as bitsandbytes' `int8_vectorwise_quant` does
  /// without outliers: each row scaled by 127 over its largest magnitude and rounded.
  /// (bitsandbytes first rounds the weight to half precision; this rounds the float weight.)
  public init(quantizing weight: Tensor) {
    precondition(
      weight.rank == 2, "quantizing: an 8-bit weight is a matrix, got shape \(weight.shape)")
    let (rows, columns) = (weight.shape[0], weight.shape[1])
    var codes = [Int8](repeating: 0, count: rows * columns)
    var scales = [Float](repeating: 0, count: rows)
    for row in 0..<rows {
      let values = weight.scalars[(row * columns)..<((row + 1) * columns)]
      let largest = values.reduce(Float(0)) { max($0, abs($1)) }
      scales[row] = largest
      let factor = largest > 0 ? 127 / largest : 0
      for (index, value) in zip(values.indices, values) {
        codes[index] = Int8((value * factor).rounded(.toNearestOrEven))
      }
    }
    try! self.init(shape: weight.shape, codes: codes, rowScales: scales)
  }

  /// The weight as floats, `[out, in]`: bitsandbytes' `int8_vectorwise_dequant`, value for
  /// value (`code · SCB`, then times 1/127 in float).
  public func dequantized() -> Tensor {
    Tensor(
      shape: shape,
      scalars: makeScalars(count: count) { out in
        dequantize(rows: 0..<shape[0], into: out.baseAddress!)
      })
  }
}

extension EightBitWeight: QuantizedMatrix {
  func dequantize(rows: Range<Int>, into out: UnsafeMutablePointer<Float>, portable: Bool = false) {
    let columns = shape[1]
    // bitsandbytes multiplies by 7.874015718698502e-3, 1/127 as a float32.
    let inverse: Float = 7.874015718698502e-3
    codes.withUnsafeBufferPointer { codes in
      parallelChunks(rows.count, minimumPerChunk: max(1, (1 << 14) / columns)) { part in
        for row in part {
          let source = (rows.lowerBound + row) * columns
          let scale = rowScales[rows.lowerBound + row]
          for column in 0..<columns {
            out[row * columns + column] = Float(codes[source + column]) * scale * inverse
          }
        }
      }
    }
  }

  func product(row x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) -> Bool { false }
}
