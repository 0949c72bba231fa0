/// A frozen weight stored in 4 bits, as bitsandbytes' `Linear4bit` stores it (`Params4bit`
/// with its `QuantState`).
///
/// The weight is `[out, in]`, flattened row-major and cut into blocks of `blockSize`
/// (64 by default) consecutive values. Each block keeps its largest magnitude (`absmax`) as
/// its scale; each value is stored as the 4-bit code of the level of `type` nearest to
/// `value / absmax`. Two codes share a byte, the first in the high nibble. A weight is read
/// back as `levels[code] · absmax`.
///
/// ```swift
/// let w = FourBitWeight(quantizing: layer.weight, as: .nf4)
/// let back = w.dequantized()  // [out, in], within half a level of each block's scale
/// ```
public struct FourBitWeight: Sendable, Equatable {
  /// The data type of the codes.
  public let type: FourBitType
  /// `[out, in]`: the weight's shape as floats.
  public let shape: [Int]
  /// How many consecutive values share a scale.
  public let blockSize: Int
  /// Two codes per byte, high nibble first; `(count + 1) / 2` bytes.
  public let packedCodes: [UInt8]
  /// The 16 levels the codes index (a saved file's `quant_map`).
  public let levels: [Float]
  /// The blocks' scales as stored: plain, or double-quantized.
  public let scales: BlockScales
  /// The scales as floats, decoded once: what the products read.
  let blockScales: [Float]

  /// Whether the block scales are double-quantized.
  public var isDoubleQuantized: Bool {
    if case .nested = scales { return true }
    return false
  }

  /// The number of weights.
  public var count: Int { shape.reduce(1, *) }
  /// The number of bytes the weight takes in memory: codes and scales.
  public var byteCount: Int {
    switch scales {
    case .plain(let values): return packedCodes.count + 4 * values.count
    case .nested(let codes, _, let values, _, _):
      return packedCodes.count + codes.count + 4 * values.count
    }
  }

  /// Wraps stored parts, checking that they fit together.
  ///
  /// - Throws: `QuantizationError` naming `name` when the codes, the scales or the levels do
  ///   not fit the shape.
  public init(
    type: FourBitType, shape: [Int], blockSize: Int, packedCodes: [UInt8], levels: [Float],
    scales: BlockScales, name: String = "weight"
  ) throws {
    func fail(_ reason: String) -> QuantizationError {
      QuantizationError(tensor: name, reason: reason)
    }
    guard shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
      throw fail("has shape \(shape); a 4-bit weight is a matrix [out, in]")
    }
    guard [32, 64, 128, 256, 512, 1024, 2048, 4096].contains(blockSize) else {
      throw fail("has block size \(blockSize); bitsandbytes uses 32, 64, …, 4096")
    }
    let (count, overflows) = shape[0].multipliedReportingOverflow(by: shape[1])
    guard !overflows, packedCodes.count == (count + 1) / 2 else {
      throw fail(
        "holds \(packedCodes.count) bytes of codes; shape \(shape) needs "
          + (overflows ? "more than memory holds" : "\((count + 1) / 2)"))
    }
    let blocks = (count + blockSize - 1) / blockSize
    guard scales.count == blocks else {
      throw fail(
        "has \(scales.count) block scales; \(count) values in blocks of \(blockSize) need \(blocks)"
      )
    }
    guard levels.count == 16, levels.allSatisfy(\.isFinite) else {
      throw fail("has \(levels.count) levels in its quant_map; a 4-bit map has 16 finite ones")
    }
    if case .nested(let codes, let nestedLevels, let nestedScales, let nestedBlock, let offset) =
      scales
    {
      guard nestedLevels.count == 256, nestedLevels.allSatisfy(\.isFinite), offset.isFinite,
        nestedBlock > 0,
        nestedScales.count == codes.count / nestedBlock + (codes.count % nestedBlock == 0 ? 0 : 1),
        nestedScales.allSatisfy(\.isFinite)
      else {
        throw fail(
          "has a nested state that does not fit: \(nestedLevels.count) levels (256 needed), "
            + "\(nestedScales.count) scales for \(codes.count) codes in blocks of \(nestedBlock)")
      }
    }
    self.type = type
    self.shape = shape
    self.blockSize = blockSize
    self.packedCodes = packedCodes
    self.levels = levels
    self.scales = scales
    blockScales = scales.decoded()
    guard blockScales.allSatisfy(\.isFinite) else { throw fail("has a scale that is not finite") }
  }

  /// Quantizes a float matrix `[out, in]` exactly as bitsandbytes' `quantize_4bit` does:
  /// each block scaled by the reciprocal of its largest magnitude, clamped to [-1, 1], and
  /// rounded to the nearest level; with `doubleQuantization`, the scales quantized too.
  public init(
    quantizing weight: Tensor, as type: FourBitType = .nf4, blockSize: Int = 64,
    doubleQuantization: Bool = false
  ) {
    precondition(
      weight.rank == 2, "quantizing: a 4-bit weight is a matrix, got shape \(weight.shape)")
    let values = weight.scalars
    let rounding = FourBitType.Rounding(type)
    var absmax: [Float] = []
    var codes = [UInt8](repeating: 0, count: values.count + values.count % 2)
    for start in stride(from: 0, to: values.count, by: blockSize) {
      let block = values[start..<min(start + blockSize, values.count)]
      let largest = block.reduce(Float(0)) { max($0, abs($1)) }
      absmax.append(largest)
      // Whole blocks are multiplied by the reciprocal, a last partial block is divided,
      // as bitsandbytes does; the two round differently.
      let guarded = max(largest, 1e-38)
      let inverse = 1 / guarded
      let isPartial = block.count < blockSize
      for index in block.indices {
        let scaled = isPartial ? values[index] / guarded : values[index] * inverse
        codes[index] = rounding.code(of: min(max(scaled, -1), 1))
      }
    }
    // An odd count is padded with a zero, which bitsandbytes rounds like any value.
    if values.count % 2 == 1 { codes[values.count] = rounding.code(of: 0) }
    let packed = stride(from: 0, to: codes.count, by: 2).map { codes[$0] << 4 | codes[$0 + 1] }
    try! self.init(
      type: type, shape: weight.shape, blockSize: blockSize, packedCodes: packed,
      levels: type.levels,
      scales: doubleQuantization ? BlockScales.nesting(absmax) : .plain(absmax))
  }

  /// The weight as floats, `[out, in]`: bitsandbytes' `dequantize_4bit`, bit for bit.
  public func dequantized() -> Tensor {
    Tensor(
      shape: shape,
      scalars: makeScalars(count: count) { out in
        dequantize(rows: 0..<shape[0], into: out.baseAddress!)
      })
  }
}

/// A quantized tensor whose parts do not fit together.
public struct QuantizationError: Error, CustomStringConvertible, Equatable {
  /// The tensor's name, as its file has it.
  public let tensor: String
  /// What is wrong.
  public let reason: String

  /// The tensor's name, then what is wrong with it.
  public var description: String { "\(tensor) \(reason)" }
}
