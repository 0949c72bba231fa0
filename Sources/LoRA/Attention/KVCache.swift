/// The keys and values a GPT computed for the tokens so far, so that generation computes
/// only the newest token at each step instead of the whole prefix again.
final class KVCache {
  /// One head's keys and values, `[length, headSize]` each, row after row.
  final class Entry {
    var keys: [Float] = []
    var values: [Float] = []

    /// Appends `[1, T, hs]` keys and values; returns all of them as `[1, length, hs]`.
    func append(keys newKeys: Tensor, values newValues: Tensor) -> (Tensor, Tensor) {
      keys += newKeys.scalars
      values += newValues.scalars
      let headSize = newKeys.shape[2]
      let length = keys.count / headSize
      return (
        Tensor(shape: [1, length, headSize], scalars: keys),
        Tensor(shape: [1, length, headSize], scalars: values)
      )
    }
  }

  /// Per layer, per head.
  let layers: [[Entry]]

  convenience init(config: GPTConfig) {
    self.init(layers: config.nLayer, heads: config.nHead)
  }

  init(layers: Int, heads: Int) {
    self.layers = (0..<layers).map { _ in (0..<heads).map { _ in Entry() } }
  }

  /// Tokens cached so far.
  var length = 0
}
