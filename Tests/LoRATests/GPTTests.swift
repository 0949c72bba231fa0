import Foundation
import Testing

@testable import LoRA

@Suite("The char-level GPT")
struct GPTTests {
  let config = GPTConfig(vocabSize: 11, blockSize: 8, nEmbd: 12, nHead: 3, nLayer: 2)

  @Test func shapesAndLoss() {
    let model = Random.withSeed(1) { GPT(config) }
    let tokens = [[1, 2, 3, 4], [5, 6, 7, 8]]
    let (logits, loss) = model.forward(tokens, targets: [[2, 3, 4, 5], [6, 7, 8, 9]])
    #expect(logits.shape == [2, 4, 11])
    // Freshly initialised logits are near zero, so the loss is near log(vocab).
    #expect(abs(loss!.item() - log(11)) < 0.1)
    #expect(model.forward(tokens).loss == nil)
  }

  @Test func moduleNamesFollowTheSeed() {
    let names = Set(GPT(config).namedModules.map(\.name))
    for name in [
      "blocks.0.sa.heads.2.query", "blocks.1.sa.heads.0.value", "blocks.0.sa.proj",
      "blocks.1.ffwd.net.0", "blocks.1.ffwd.net.2", "blocks.0.ln1", "ln_f", "lm_head",
      "token_embedding_table", "position_embedding_table",
    ] {
      #expect(names.contains(name), "\(name)")
    }
    let parameters = GPT(config).namedParameters.map(\.name)
    #expect(parameters.contains("blocks.0.sa.heads.1.query.weight"))
    #expect(parameters.first == "token_embedding_table.weight")
    #expect(GPT(config).namedBuffers.map(\.name).first == "blocks.0.sa.heads.0.tril")
  }

  @Test func queryAndValueTargetsEveryHead() throws {
    let model = GPT(config)
    let replaced = try applyLoRA(to: model, targets: ["query", "value"], rank: 4, alpha: 8)
    #expect(replaced.count == 2 * 3 * 2)
    #expect(replaced.first == "blocks.0.sa.heads.0.query")
    // Per head: A [4, 12] and B [4, 4], for query and value: 2 · (48 + 16) = 128.
    #expect(parameterReport(model).trainable == 2 * 3 * 128)
  }

  /// `Linear.fused` over every head's key, query and value, with LoRA on the queries and
  /// values (their down-projections sharing one product, or, with dropout while training,
  /// each its own, and each added into its columns), against each layer applied on its own
  /// and the outputs joined: the same outputs, the same
  /// gradients for the input and every adapter matrix, and the same dropout draws.
  @Test(arguments: [Float(0), 0.3])
  func fusedProjectionsEqualTheLayersOneByOne(dropout: Float) throws {
    let attention = Random.withSeed(4) {
      MultiHeadAttention(nEmbd: 24, nHead: 3, blockSize: 80, dropout: 0)
    }
    try Random.withSeed(5) {
      _ = try applyLoRA(
        to: attention, targets: ["query", "value"], rank: 2, alpha: 4, dropout: dropout)
    }
    let adapters = attention.namedParameters.filter { $0.name.contains("lora_") }.map(\.parameter)
    #expect(adapters.count == 12)
    for (index, parameter) in adapters.enumerated() {  // B starts at zero: give it values
      parameter.scalars = parameter.scalars.indices.map { Float(($0 * 7 + index) % 11) * 0.1 - 0.5 }
    }
    let layers = attention.heads.flatMap { [$0.key, $0.query, $0.value] }
    let input = Random.withSeed(6) { Tensor.randn([2, 70, 24]) }
    func run(_ fused: Bool) -> (outputs: [[Float]], gradients: [[Float]]) {
      let x = Tensor(shape: input.shape, scalars: input.scalars, requiresGrad: true)
      for parameter in adapters { parameter.grad = nil }
      let output = Random.withSeed(7) {
        fused ? Linear.fused(layers, x)! : Tensor.concatenate(layers.map { $0(x) }, axis: -1)
      }
      #expect(output.shape == [2, 70, 72])
      let weights = (0..<output.count).map { Float($0 % 5) - 2 }
      (output * Tensor(shape: output.shape, scalars: weights)).sum().backward()
      return ([output.scalars], [x.grad!.scalars] + adapters.map { $0.grad!.scalars })
    }
    let (fused, separate) = (run(true), run(false))
    for (a, b) in zip(fused.outputs + fused.gradients, separate.outputs + separate.gradients) {
      #expect(isClose(a, b, tolerance: 1e-5))
    }
  }

  /// A layer's heads read in place from the fused projection, in training with dropout on
  /// the attention weights and LoRA on the queries and values, against each head attending
  /// on its own and the outputs joined (the path before the in-place attention): the same
  /// outputs and gradients, so the same dropout masks in the same order.
  @Test func headsReadInPlaceEqualTheHeadsOneByOne() throws {
    let attention = Random.withSeed(4) {
      MultiHeadAttention(nEmbd: 24, nHead: 3, blockSize: 80, dropout: 0.25)
    }
    try Random.withSeed(5) {
      _ = try applyLoRA(to: attention, targets: ["query", "value"], rank: 2, alpha: 4)
    }
    for (index, parameter) in attention.parameters.enumerated() where parameter.requiresGrad {
      parameter.scalars = parameter.scalars.indices.map { Float(($0 * 5 + index) % 9) * 0.1 - 0.4 }
    }
    let input = Random.withSeed(6) { Tensor.randn([2, 70, 24]) }
    let weights = Random.withSeed(8) { Tensor.randn([2, 70, 24]) }
    func run(inPlace: Bool) -> [[Float]] {
      let x = Tensor(shape: input.shape, scalars: input.scalars, requiresGrad: true)
      for parameter in attention.parameters { parameter.grad = nil }
      let output = Random.withSeed(7) {
        inPlace ? attention(x) : composed(attention, x)
      }
      (output * weights).sum().backward()
      let gradients = attention.parameters.filter(\.requiresGrad).map { $0.grad!.scalars }
      return [output.scalars, x.grad!.scalars] + gradients
    }
    let (inPlace, oneByOne) = (run(inPlace: true), run(inPlace: false))
    #expect(inPlace.count == 2 + 12)
    for (a, b) in zip(inPlace, oneByOne) { #expect(isClose(a, b, tolerance: 1e-5)) }
    // Dropout did act: a run with other draws differs.
    let other = Random.withSeed(9) { attention(input) }
    #expect(!isClose(other.scalars, inPlace[0], tolerance: 1e-3))
  }

  /// The heads' attention as separate operations: each head's projections in the order of
  /// its layers, the heads stacked batch row by batch row (`[B·H, T, hs]`, as PyTorch's
  /// `[B, H, T, T]` weights, and so the dropout draws), the product, causal softmax,
  /// dropout and product, joined back and projected.
  func composed(_ attention: MultiHeadAttention, _ x: Tensor) -> Tensor {
    let (batch, length) = (x.shape[0], x.shape[1])
    let (heads, size) = (attention.heads.count, attention.heads[0].query.outFeatures)
    let projections = attention.heads.map { ($0.key(x), $0.query(x), $0.value(x)) }
    func stacked(_ part: ((Tensor, Tensor, Tensor)) -> Tensor) -> Tensor {
      Tensor.concatenate(projections.map { part($0).reshaped([batch, 1, length, size]) }, axis: 1)
        .reshaped([batch * heads, length, size])
    }
    let (q, k, v) = (stacked { $0.1 }, stacked { $0.0 }, stacked { $0.2 })
    let weights = q.matmul(k.mT).causalSoftmax(scale: 1 / Float(size).squareRoot())
      .dropout(attention.heads[0].dropout.p)
    let joined = weights.matmul(v).reshaped([batch, heads, length, size])
      .permuted([0, 2, 1, 3]).reshaped([batch, length, heads * size])
    return attention.dropout(attention.proj(joined))
  }

  @Test func causalAttentionIgnoresTheFuture() {
    let model = Random.withSeed(2) { GPT(config) }
    let a = model.forward([[1, 2, 3, 4]]).logits
    let b = model.forward([[1, 2, 3, 9]]).logits
    // Positions 0...2 cannot see the last token.
    #expect(a.scalars[0..<33] == b.scalars[0..<33])
    #expect(a.scalars[33...] != b.scalars[33...])
  }

  @Test func cachedGenerationMatchesRecomputingThePrefix() {
    let model = Random.withSeed(3) { GPT(config) }
    let tokens = [1, 4, 2, 8, 5, 7]
    let cache = model.makeCache()
    var cachedLogits: [Float] = []
    _ = model.forward([Array(tokens.prefix(3))], cache: cache)
    for token in tokens.dropFirst(3) {
      cachedLogits += model.forward([[token]], cache: cache).scalars
    }
    let full = model.forward([tokens]).logits.scalars
    #expect(isClose(cachedLogits, Array(full[(3 * 11)...]), tolerance: 1e-5))
  }

  /// A prompt of 64 positions or more goes through the fused projection into the cache (the
  /// heads read in place), a single token head by head: both agree with recomputing.
  @Test func cachedGenerationAfterALongPromptMatchesRecomputing() {
    let long = GPTConfig(vocabSize: 11, blockSize: 80, nEmbd: 12, nHead: 3, nLayer: 2)
    let model = Random.withSeed(3) { GPT(long) }
    let tokens = (0..<75).map { ($0 * 7 + 3) % 11 }
    let cache = model.makeCache()
    var cachedLogits = model.forward([Array(tokens.prefix(70))], cache: cache).scalars
    for token in tokens.dropFirst(70) {
      cachedLogits += model.forward([[token]], cache: cache).scalars
    }
    let full = model.forward([tokens]).logits.scalars
    #expect(isClose(cachedLogits, Array(full), tolerance: 1e-5))
  }

  @Test func generationIsSeededAndSlidesPastTheBlockSize() {
    let model = Random.withSeed(4) { GPT(config) }
    let first = model.generate(context: [1, 2], maxNewTokens: 20, seed: 7)
    let second = model.generate(context: [1, 2], maxNewTokens: 20, seed: 7)
    #expect(first == second)
    #expect(first.count == 22)
    #expect(first.prefix(2) == [1, 2])
    #expect(first.allSatisfy { (0..<11).contains($0) })
    // Greedy decoding past the block size equals cropping the context and recomputing.
    let greedy = model.generate(context: [3], maxNewTokens: 12, temperature: 0)
    var reference = [3]
    for _ in 0..<12 {
      let window = Array(reference.suffix(config.blockSize))
      let logits = model.forward([window]).logits.scalars.suffix(11)
      reference.append(
        Array(logits).indices.max {
          logits[logits.startIndex + $0] < logits[logits.startIndex + $1]
        }!)
    }
    #expect(greedy == reference)
  }

  @Test func topKSamplesOnlyTheLikeliest() {
    var generator = RandomGenerator(seed: 1)
    let logits: [Float] = [0, 5, 1, 4.9, -2]
    for _ in 0..<200 {
      #expect([1, 3].contains(sample(logits, temperature: 1, topK: 2, using: &generator)))
    }
    #expect(sample(logits, temperature: 0, topK: nil, using: &generator) == 1)
  }

  @Test func causalSoftmaxMatchesTheUnfusedOps() {
    let scores = parameter([2, 4, 4], seed: 8)
    let fused = scores.causalSoftmax(scale: 0.5)
    let unfused = (scores * 0.5).maskedFill(1 - Tensor.tril(4), -.infinity).softmax()
    #expect(isClose(fused.scalars, unfused.scalars, tolerance: 1e-6))
    checkGradients([scores]) { $0[0].causalSoftmax(scale: 0.5) }
    let rectangular = parameter([2, 3], seed: 9)  // 2 new queries over 3 keys
    checkGradients([rectangular]) { $0[0].causalSoftmax(scale: 2) }
    #expect(rectangular.causalSoftmax(scale: 1).scalars[2] == 0)
  }

  @Test func wholeModelGradientsMatchFiniteDifferences() {
    let small = GPTConfig(vocabSize: 5, blockSize: 4, nEmbd: 4, nHead: 2, nLayer: 1)
    let model = Random.withSeed(5) { GPT(small) }
    let weight = model.blocks[0].sa.heads[1].query.weight
    let embedding = model.tokenEmbedding.weight
    checkGradients([weight, embedding], tolerance: 2e-2) { _ in
      model.forward([[1, 2, 3]], targets: [[2, 3, 4]]).loss!
    }
  }
}

@Suite("Character tokenizer")
struct CharTokenizerTests {
  @Test func encodesAndDecodes() throws {
    let tokenizer = CharTokenizer(corpus: "hello world")
    #expect(String(tokenizer.vocabulary) == " dehlorw")
    let ids = try tokenizer.encode("hello")
    #expect(ids == [3, 2, 4, 4, 5])
    #expect(tokenizer.decode(ids) == "hello")
  }

  @Test func unknownCharactersAreNamed() {
    let tokenizer = CharTokenizer(corpus: "abc")
    #expect(throws: TokenizerError.unknownCharacter("z", offset: 2, vocabulary: "abc")) {
      try tokenizer.encode("abz")
    }
    let message = TokenizerError.unknownCharacter("z", offset: 2, vocabulary: "abc").description
    #expect(message == #"character "z" at offset 2 is not in the vocabulary "abc""#)
  }

  @Test func roundTripsThroughJSON() throws {
    let tokenizer = CharTokenizer(corpus: "KING: hi\n")
    let data = try JSONEncoder().encode(tokenizer)
    #expect(try JSONDecoder().decode(CharTokenizer.self, from: data) == tokenizer)
  }
}
