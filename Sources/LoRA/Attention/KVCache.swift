/// The keys and values a GPT computed for the tokens so far, so that generation computes
/// only the newest token at each step instead of the whole prefix again. Made by a model's
/// `makeCache()` and handed back to its `forward(_:cache:)`; its contents are the model's.
public final class KVCache {
  /// The keys and values of one attention layer, all its heads, for a batch of one, and the
  /// attention of new queries over them.
  ///
  /// Each head's keys are rows of one buffer with room to spare, `[heads, capacity,
  /// headSize]`, and likewise its values, so a new position is written in place and read
  /// where it lies: no step copies, concatenates or transposes the positions before it.
  /// The room doubles when it runs out, so appending costs amortised O(1) per position.
  final class Entry {
    /// The heads side by side in one entry.
    let heads: Int
    /// Positions cached so far.
    private(set) var length = 0
    private var capacity = 0
    private var headSize = 0
    private var keys: [Float] = []
    private var values: [Float] = []

    /// An empty entry for `heads` heads.
    init(heads: Int = 1) {
      precondition(heads > 0, "KVCache.Entry: needs at least one head")
      self.heads = heads
    }

    /// Appends the keys and values of `T` new positions, each `[heads, T, headSize]`.
    func append(keys newKeys: Tensor, values newValues: Tensor) {
      precondition(
        newKeys.rank == 3 && newKeys.shape[0] == heads && newKeys.shape == newValues.shape,
        "KVCache.Entry: expected keys and values [\(heads), T, hs], got \(newKeys.shape) "
          + "and \(newValues.shape)")
      let (added, size) = (newKeys.shape[1], newKeys.shape[2])
      if length == 0 { headSize = size }
      precondition(size == headSize, "KVCache.Entry: head size \(size), cached \(headSize)")
      reserve(length + added)
      Self.write(newKeys, into: &keys, at: length, capacity: capacity)
      Self.write(newValues, into: &values, at: length, capacity: capacity)
      length += added
    }

    /// Attention of `query` `[heads, T, headSize]`, the queries of the last `T` cached
    /// positions, over every cached position up to each query's own: `[heads, T, headSize]`.
    ///
    /// For generation only, so it records no gradient and applies no dropout.
    func attend(query: Tensor, scale: Float) -> Tensor {
      let queries = query.shape[1]
      precondition(
        query.shape == [heads, queries, headSize] && queries <= length,
        "KVCache.Entry: query \(query.shape) against \(length) cached positions of "
          + "\(heads) heads of \(headSize)")
      let (keysSeen, offset) = (length, length - queries)
      var scores = [Float](repeating: 0, count: queries * keysSeen)
      var output = [Float](repeating: 0, count: heads * queries * headSize)
      query.scalars.withUnsafeBufferPointer { query in
        keys.withUnsafeBufferPointer { keys in
          values.withUnsafeBufferPointer { values in
            scores.withUnsafeMutableBufferPointer { scores in
              output.withUnsafeMutableBufferPointer { output in
                let scores = scores.baseAddress!
                for head in 0..<heads {
                  let cached = head * capacity * headSize
                  gemm(
                    transposeA: false, transposeB: true, m: queries, n: keysSeen, k: headSize,
                    a: query.baseAddress! + head * queries * headSize, lda: headSize,
                    b: keys.baseAddress! + cached, ldb: headSize, beta: 0, c: scores,
                    ldc: keysSeen)
                  for row in 0..<queries {
                    // Query `row` sits at position offset + row and sees that many + 1.
                    let scores = scores + row * keysSeen
                    causalSoftmaxRow(
                      scores, scores, visible: offset + row + 1, width: keysSeen, scale: scale)
                  }
                  gemm(
                    transposeA: false, transposeB: false, m: queries, n: headSize, k: keysSeen,
                    a: scores, lda: keysSeen, b: values.baseAddress! + cached, ldb: headSize,
                    beta: 0, c: output.baseAddress! + head * queries * headSize, ldc: headSize)
                }
              }
            }
          }
        }
      }
      return Tensor(shape: [heads, queries, headSize], scalars: output)
    }

    /// Room for `needed` positions per head, at least doubling, each head's rows moved to
    /// their new place.
    private func reserve(_ needed: Int) {
      guard needed > capacity else { return }
      let grown = Swift.max(needed, 2 * capacity, 16)
      let (heads, rows, size, capacity) = (heads, length * headSize, headSize, capacity)
      func moved(_ buffer: [Float]) -> [Float] {
        var moved = [Float](repeating: 0, count: heads * grown * size)
        for head in 0..<heads {
          moved[(head * grown * size)..<(head * grown * size + rows)] =
            buffer[(head * capacity * size)..<(head * capacity * size + rows)]
        }
        return moved
      }
      (keys, values) = (moved(keys), moved(values))
      self.capacity = grown
    }

    /// Copies `new` `[heads, T, hs]` into `buffer` `[heads, capacity, hs]` from row `start`.
    private static func write(
      _ new: Tensor, into buffer: inout [Float], at start: Int, capacity: Int
    ) {
      let (heads, added, size) = (new.shape[0], new.shape[1], new.shape[2])
      buffer.withUnsafeMutableBufferPointer { cached in
        new.scalars.withUnsafeBufferPointer { new in
          for head in 0..<heads {
            (cached.baseAddress! + (head * capacity + start) * size).update(
              from: new.baseAddress! + head * added * size, count: added * size)
          }
        }
      }
    }
  }

  /// Per layer, the entry its attention reads: every head of the layer.
  let layers: [Entry]

  /// An empty cache for `layers` attention layers of `heads` heads each.
  init(layers: Int, heads: Int) {
    self.layers = (0..<layers).map { _ in Entry(heads: heads) }
  }

  /// Tokens cached so far.
  var length = 0
}
