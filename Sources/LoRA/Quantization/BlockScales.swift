/// Each 4-bit block's scale, its largest magnitude (`absmax`), as it is stored.
///
/// With double quantization (`bnb_4bit_use_double_quant`, the QLoRA paper's third idea) the
/// scales are quantized too: their mean is subtracted, and what is left is stored as 8-bit
/// codes of bitsandbytes' dynamic map, in blocks of 256 with a float scale each. That saves
/// about 0.37 bits per weight at block size 64.
public enum BlockScales: Sendable, Equatable {
  /// One float per block.
  case plain([Float])
  /// 8-bit codes of `levels`, one per block; `scales` one float per `blockSize` codes; the
  /// scale is `levels[code] · scales[block] + offset`.
  case nested(codes: [UInt8], levels: [Float], scales: [Float], blockSize: Int, offset: Float)

  /// The scales as floats, exactly as bitsandbytes' `dequantize_4bit` computes them.
  public func decoded() -> [Float] {
    switch self {
    case .plain(let scales): return scales
    case .nested(let codes, let levels, let scales, let blockSize, let offset):
      // Two roundings, as `dequantize_blockwise` and then `absmax += offset` make them.
      return codes.enumerated().map { index, code in
        let scaled = levels[Int(code)] * scales[index / blockSize]
        return scaled + offset
      }
    }
  }

  /// The number of blocks the scales cover.
  public var count: Int {
    switch self {
    case .plain(let scales): return scales.count
    case .nested(let codes, _, _, _, _): return codes.count
    }
  }

  /// Double quantization of `scales` as bitsandbytes' `quantize_4bit(compress_statistics=True)`
  /// makes it: the mean subtracted, then `quantize_blockwise` in blocks of 256 with the
  /// signed dynamic map, each value rounded to the nearest level of its block's range.
  static func nesting(_ scales: [Float], blockSize: Int = 256) -> BlockScales {
    // torch sums in float, in vector lanes and then a cascade, an order this does not
    // copy: the mean is the exact one, rounded once, within an ulp or two of torch's.
    let offset = Float(scales.reduce(0.0) { $0 + Double($1) } / Double(max(scales.count, 1)))
    let centred = scales.map { $0 - offset }
    let levels = dynamicMap
    var codes = [UInt8](repeating: 0, count: centred.count)
    var blockScales: [Float] = []
    for start in stride(from: 0, to: centred.count, by: blockSize) {
      let block = centred[start..<min(start + blockSize, centred.count)]
      let absmax = max(block.map(abs).max() ?? 0, Float.leastNormalMagnitude)
      blockScales.append(absmax)
      for index in block.indices {
        codes[index] = nearestLevel(to: block[index] / absmax, in: levels)
      }
    }
    return .nested(
      codes: codes, levels: levels, scales: blockScales, blockSize: blockSize, offset: offset)
  }

  /// The index of the level nearest to `x` in the sorted `levels`; the lower on a tie.
  static func nearestLevel(to x: Float, in levels: [Float]) -> UInt8 {
    var low = 0
    var high = levels.count - 1
    while high - low > 1 {
      let middle = (low + high) / 2
      if levels[middle] <= x { low = middle } else { high = middle }
    }
    return UInt8(abs(levels[high] - x) < abs(x - levels[low]) ? high : low)
  }

  /// bitsandbytes' `create_dynamic_map(signed=True)`: 256 sorted levels in [-1, 1], dense
  /// near zero, for 8-bit codes of values of very different sizes. Computed as torch computes
  /// it in float32: for each power of ten from 10⁻⁶ to 1, the midpoints of an even grid on
  /// [0.1, 1] with 2, 3, 5, …, 65 points, scaled by the power, with both signs; then 0 and 1.
  static let dynamicMap: [Float] = {
    var levels: [Float] = []
    for exponent in 0..<7 {
      let points = (1 << exponent) + 1
      let grid = linspace(0.1, 1, points)
      let power = Float(pow10(exponent - 6))
      let means = (0..<(points - 1)).map { (grid[$0] + grid[$0 + 1]) / 2 }
      levels += means.map { power * $0 }
      levels += means.map { -(power * $0) }
    }
    levels += [0, 1]
    return levels.sorted()
  }()

  /// torch.linspace in float32: from each end by whole steps, meeting in the middle, each
  /// point one fused multiply-add, as its vector kernel computes it.
  private static func linspace(_ start: Float, _ end: Float, _ count: Int) -> [Float] {
    let step = (end - start) / Float(count - 1)
    return (0..<count).map { index in
      index < count / 2
        ? start.addingProduct(step, Float(index))
        : end.addingProduct(-step, Float(count - index - 1))
    }
  }

  private static func pow10(_ exponent: Int) -> Double {
    exponent >= 0
      ? (0..<exponent).reduce(1.0) { value, _ in value * 10 }
      : 1 / (0..<(-exponent)).reduce(1.0) { value, _ in value * 10 }
  }
}
