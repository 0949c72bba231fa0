/// Where every head's query, key and value sit in the last axis of a fused projection
/// `[B, T, width]`: head `h`'s query is the `size` columns from `query + h · headStride`, its
/// key those from `key + h · headStride`, its value those from `value + h · headStride`.
///
/// With it, `Tensor.scaledDotProductAttention(.packed(projected, columns:), …)` reads the
/// heads in place, with strided products, rather than each head's three matrices cut out first and
/// the heads' outputs joined after.
public struct QKVColumns: Hashable, Sendable {
  /// The number of heads.
  public let heads: Int
  /// Columns per head in each of query, key and value.
  public let size: Int
  /// The first column of head 0's query.
  public let query: Int
  /// The first column of head 0's key.
  public let key: Int
  /// The first column of head 0's value.
  public let value: Int
  /// Columns from one head's query (key, value) to the next head's.
  public let headStride: Int

  /// A layout; each head's three ranges must not overlap another's (checked against a
  /// projection's width when used).
  public init(heads: Int, size: Int, query: Int, key: Int, value: Int, headStride: Int) {
    (self.heads, self.size, self.headStride) = (heads, size, headStride)
    (self.query, self.key, self.value) = (query, key, value)
  }

  /// Transformers' GPT-2 (`c_attn`): every head's query, then every key, then every value,
  /// `heads · size` columns each.
  public static func grouped(heads: Int, size: Int) -> QKVColumns {
    QKVColumns(
      heads: heads, size: size, query: 0, key: heads * size, value: 2 * heads * size,
      headStride: size)
  }

  /// The char GPT's heads fused in the order of their layers: head by head, its key, query
  /// and value side by side.
  public static func headByHead(heads: Int, size: Int) -> QKVColumns {
    QKVColumns(heads: heads, size: size, query: size, key: 0, value: 2 * size, headStride: 3 * size)
  }

  /// The `3 · heads` column ranges, query, key and value of head 0, then of head 1, and so on.
  var ranges: [Range<Int>] {
    (0..<heads).flatMap { head in
      [query, key, value].map { first in
        let start = first + head * headStride
        return start..<(start + size)
      }
    }
  }

  /// Why this layout cannot be read from rows of `width` floats, or nil if it can: a range
  /// outside the row, or two ranges that overlap (two heads would write one gradient).
  func problem(width: Int) -> String? {
    guard heads > 0, size > 0 else { return "needs at least one head of at least one column" }
    let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
    if let outside = sorted.first(where: { $0.lowerBound < 0 || $0.upperBound > width }) {
      return "columns \(outside) fall outside the projection's \(width)"
    }
    for (a, b) in zip(sorted, sorted.dropFirst()) where a.overlaps(b) {
      return "columns \(a) and \(b) overlap"
    }
    return nil
  }

  /// Each head's query, key and value cut out of `projected` `[B, T, width]`, each
  /// `[B · heads, T, size]`, batch row by batch row. For generation: no gradient is recorded.
  func heads(of projected: Tensor) -> (query: Tensor, key: Tensor, value: Tensor) {
    let (batch, length, width) = (projected.shape[0], projected.shape[1], projected.shape[2])
    let x = projected.scalars
    func cut(_ first: Int) -> Tensor {
      var part = [Float](repeating: 0, count: batch * heads * length * size)
      for row in 0..<batch {
        for head in 0..<heads {
          for position in 0..<length {
            let from = (row * length + position) * width + first + head * headStride
            let to = ((row * heads + head) * length + position) * size
            part[to..<(to + size)] = x[from..<(from + size)]
          }
        }
      }
      return Tensor(shape: [batch * heads, length, size], scalars: part)
    }
    return (cut(query), cut(key), cut(value))
  }

  /// Whether the ranges cover every one of `width` columns (so a gradient that writes each
  /// range writes the whole row).
  func covers(width: Int) -> Bool { 3 * heads * size == width }
}
