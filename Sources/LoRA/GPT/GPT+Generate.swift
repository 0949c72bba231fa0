import Foundation

extension GPT: CausalLanguageModel {
  /// The most positions it attends over: its `blockSize`.
  public var contextLength: Int { config.blockSize }
  /// The number of logits per position.
  public var vocabularySize: Int { config.vocabSize }
  /// An empty cache for this model's layers and heads.
  public func makeCache() -> KVCache { KVCache(layers: config.nLayer, heads: config.nHead) }
}

/// A language model that continues a sequence a few positions at a time, keeping the keys
/// and values of earlier positions in a `KVCache`: the char GPT and GPT-2 both generate
/// this way.
public protocol CausalLanguageModel: Module {
  /// The most positions the model attends over.
  var contextLength: Int { get }
  /// The number of logits per position.
  var vocabularySize: Int { get }
  /// An empty cache for this model's layers and heads.
  func makeCache() -> KVCache
  /// Logits `[1, T, vocab]` for `tokens`, continuing the sequence in `cache`.
  func forward(_ tokens: [[Int]], cache: KVCache?) -> Tensor
}

extension CausalLanguageModel {
  /// Continues `context` by sampling `maxNewTokens` tokens, one at a time, each from the
  /// model's distribution over the next token, in evaluation mode and without gradients.
  ///
  /// Keys and values of earlier positions are cached, so each step computes only the newest
  /// token. Past `contextLength` the context is cropped to its last `contextLength` tokens,
  /// as in nanoGPT, and the cache rebuilt for the new window.
  ///
  /// - Parameters:
  ///   - context: the prompt's tokens; at least one.
  ///   - temperature: divides the logits; below 1 sharpens the distribution, 0 picks the
  ///     most likely token every time.
  ///   - topK: sample only among the `topK` most likely tokens.
  ///   - seed: the sampler's seed; the library-wide generator when `nil`.
  /// - Returns: `context` followed by the new tokens.
  public func generate(
    context: [Int], maxNewTokens: Int, temperature: Float = 1, topK: Int? = nil,
    seed: UInt64? = nil
  ) -> [Int] {
    guard !context.isEmpty else {
      fatalError("\(type(of: self)).generate: the context needs at least one token")
    }
    let wasTraining = isTraining
    eval()
    defer { train(wasTraining) }
    var generator = seed.map { RandomGenerator(seed: $0) } ?? Random.generator
    defer { if seed == nil { Random.generator = generator } }

    var tokens = context
    var cache = makeCache()
    var pending = Array(context.suffix(contextLength))
    return withNoGrad {
      for _ in 0..<maxNewTokens {
        if cache.length + pending.count > contextLength {
          // The window slides: positions change, so the cache is rebuilt.
          cache = makeCache()
          pending = Array(tokens.suffix(contextLength))
        }
        let logits = forward([pending], cache: cache)  // [1, T, vocab]
        let last = logits.scalars.suffix(vocabularySize)
        let next = sample(Array(last), temperature: temperature, topK: topK, using: &generator)
        tokens.append(next)
        pending = [next]
      }
      return tokens
    }
  }
}

/// Draws an index from `softmax(logits / temperature)`, restricted to the `topK` largest.
func sample(
  _ logits: [Float], temperature: Float, topK: Int?, using generator: inout RandomGenerator
) -> Int {
  let best = logits.indices.max { logits[$0] < logits[$1] }!
  guard temperature > 0 else { return best }
  var scaled = logits.map { $0 / temperature }
  if let topK, topK < scaled.count {
    let threshold = scaled.sorted(by: >)[max(topK, 1) - 1]
    scaled = scaled.map { $0 < threshold ? -.infinity : $0 }
  }
  let largest = scaled.max()!
  let weights = scaled.map { Foundation.exp($0 - largest) }
  var draw = generator.nextUniform() * weights.reduce(0, +)
  for (index, weight) in weights.enumerated() {
    draw -= weight
    if draw < 0 { return index }
  }
  return best
}
