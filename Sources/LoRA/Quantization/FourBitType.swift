/// The two 4-bit data types of bitsandbytes (`bnb_4bit_quant_type`), each a table of 16
/// values in [-1, 1] that a block's weights, divided by the block's largest magnitude, are
/// rounded to.
public enum FourBitType: String, Sendable, CaseIterable, Codable {
  /// NormalFloat4, from the QLoRA paper (Dettmers et al., 2023): the 16 levels are
  /// quantiles of a standard normal distribution, scaled to [-1, 1], with an exact zero. A
  /// trained network's weights are close to normal, so each level is used about equally
  /// often: the best 4-bit grid for them.
  case nf4
  /// A 4-bit float: 1 sign bit, 2 exponent bits and 1 mantissa bit, scaled to [-1, 1].
  case fp4

  /// The 16 levels, indexed by code, exactly as `bitsandbytes.functional.get_4bit_type`
  /// gives them in float32 (and as a saved model's `weight.quant_map` stores them).
  public var levels: [Float] {
    switch self {
    case .nf4:
      return [
        -0x1p+0, -0x1.647362p-1, -0x1.0cd66p-1, -0x1.94654p-2, -0x1.23449ap-2, -0x1.7a6a7ep-3,
        -0x1.74f0e2p-4, 0, 0x1.45f5fep-4, 0x1.4995c6p-3, 0x1.f809bap-3, 0x1.5a0674p-2,
        0x1.c3497p-2, 0x1.200f56p-1, 0x1.722766p-1, 0x1p+0,
      ]
    case .fp4:
      // Codes 0–7 are positive, 8–15 their negatives; both 0 and 8 are zero.
      let positive: [Float] = [
        0, 0x1.555556p-8, 0x1.555556p-1, 1, 0x1.555556p-2, 0x1p-1, 0x1.555556p-3, 0x1p-2,
      ]
      return positive + positive.map { $0 == 0 ? 0 : -$0 }
    }
  }

  /// The code of every scaled value `x` in [-1, 1], as bitsandbytes' `quantize_4bit` picks
  /// it: the levels sorted (stably, so of FP4's two zeros code 0 comes first), the midpoints
  /// between neighbours as boundaries, and the number of boundaries below `x` as the index
  /// into the sorted levels (`torch.bucketize`; a value on a boundary takes the lower level).
  struct Rounding {
    let boundaries: [Float]
    let codeOfSorted: [UInt8]

    init(_ type: FourBitType) {
      let levels = type.levels
      let order = levels.indices.sorted { (levels[$0], $0) < (levels[$1], $1) }
      codeOfSorted = order.map { UInt8($0) }
      boundaries = (0..<15).map { (levels[order[$0]] + levels[order[$0 + 1]]) / 2 }
    }

    /// The code nearest to `x`.
    @inline(__always)
    func code(of x: Float) -> UInt8 {
      var below = 0
      // 15 boundaries: a branch-free count is as fast as a binary search here.
      for boundary in boundaries where boundary < x { below += 1 }
      return codeOfSorted[below]
    }
  }
}
