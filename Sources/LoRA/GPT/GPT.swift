import Foundation

/// The shape of a character-level GPT.
public struct GPTConfig: Codable, Equatable, Sendable {
  /// Tokens in the vocabulary (characters, for `CharTokenizer`).
  public var vocabSize: Int
  /// The longest context the model attends to.
  public var blockSize: Int
  /// Width of the residual stream.
  public var nEmbd: Int
  /// Attention heads per block; each has `nEmbd / nHead` dimensions.
  public var nHead: Int
  /// Transformer blocks.
  public var nLayer: Int
  /// Dropout after attention, projections and the MLP, during training.
  public var dropout: Float

  /// A configuration; `nEmbd` must be divisible by `nHead`.
  public init(
    vocabSize: Int, blockSize: Int, nEmbd: Int, nHead: Int, nLayer: Int, dropout: Float = 0
  ) {
    self.vocabSize = vocabSize
    self.blockSize = blockSize
    self.nEmbd = nEmbd
    self.nHead = nHead
    self.nLayer = nLayer
    self.dropout = dropout
    if let problem { preconditionFailure(problem) }
  }

  /// Why no model can be built with this configuration, or `nil` when one can: a size that
  /// is not positive, heads that do not divide the width, a dropout outside [0, 1), or
  /// a model so large that its parameter count overflows.
  public var problem: String? {
    let sizes = [
      ("vocabSize", vocabSize), ("blockSize", blockSize), ("nEmbd", nEmbd), ("nHead", nHead),
      ("nLayer", nLayer),
    ]
    if let (name, value) = sizes.first(where: { $0.1 <= 0 }) {
      return "GPTConfig.\(name) is \(value); it must be positive"
    }
    if nEmbd % nHead != 0 {
      return "GPTConfig.nEmbd \(nEmbd) is not divisible by nHead \(nHead)"
    }
    if !(dropout >= 0 && dropout < 1) {
      return "GPTConfig.dropout is \(dropout); it must be in [0, 1)"
    }
    // Embeddings, plus per layer about 12 · nEmbd², must be countable (and far smaller, to
    // fit in memory, but that is for the allocator to say).
    let (width2, o1) = nEmbd.multipliedReportingOverflow(by: nEmbd)
    let (layers, o2) = width2.multipliedReportingOverflow(by: 16)
    let (all, o3) = layers.multipliedReportingOverflow(by: nLayer)
    let (embeddings, o4) = (vocabSize + blockSize).multipliedReportingOverflow(by: nEmbd)
    let (attention, o5) = blockSize.multipliedReportingOverflow(by: blockSize)
    if o1 || o2 || o3 || o4 || o5 || all > 1 << 40 || embeddings > 1 << 40 || attention > 1 << 40 {
      return
        "GPTConfig of \(nLayer) layers of width \(nEmbd), vocabulary \(vocabSize) and context "
        + "\(blockSize) is too large to build"
    }
    return nil
  }

  /// The benchmark configurations of `gpt_bench.py`, with a 65-character vocabulary.
  public static let small = GPTConfig(vocabSize: 65, blockSize: 64, nEmbd: 64, nHead: 4, nLayer: 4)
  /// Config M of the benchmark.
  public static let medium = GPTConfig(
    vocabSize: 65, blockSize: 128, nEmbd: 128, nHead: 4, nLayer: 4)
  /// Config L of the benchmark, the size of Karpathy's Shakespeare model.
  public static let large = GPTConfig(
    vocabSize: 65, blockSize: 256, nEmbd: 384, nHead: 6, nLayer: 6)
}

/// The 4× ReLU MLP of a block: `net` is `Linear(C, 4C)`, ReLU, `Linear(4C, C)`, dropout,
/// so its layers are named `net.0` and `net.2` as in the seed.
public final class FeedForward: Module {
  /// The layers in order.
  public let net: Sequential

  /// An MLP of the given width.
  public init(nEmbd: Int, dropout: Float) {
    net = Sequential([
      Linear(nEmbd, 4 * nEmbd), ReLU(), Linear(4 * nEmbd, nEmbd), Dropout(dropout),
    ])
  }

  /// The input through every layer.
  public override func callAsFunction(_ x: Tensor) -> Tensor { net(x) }
}

/// A transformer block: pre-norm attention and a 4× ReLU MLP, each added to the stream.
public final class Block: Module {
  /// Self-attention.
  public let sa: MultiHeadAttention
  /// The MLP.
  public let ffwd: FeedForward
  /// Normalises the input of attention.
  public let ln1: LayerNorm
  /// Normalises the input of the MLP.
  public let ln2: LayerNorm

  /// A block of the given width.
  public init(nEmbd: Int, nHead: Int, blockSize: Int, dropout: Float) {
    sa = MultiHeadAttention(nEmbd: nEmbd, nHead: nHead, blockSize: blockSize, dropout: dropout)
    ffwd = FeedForward(nEmbd: nEmbd, dropout: dropout)
    ln1 = LayerNorm(nEmbd)
    ln2 = LayerNorm(nEmbd)
  }

  /// `x + sa(ln1(x))`, then `+ ffwd(ln2(·))`.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    forward(x, cache: nil)
  }

  func forward(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    let attended = x + sa.attend(ln1(x), cache: cache)
    return attended + ffwd(ln2(attended))
  }
}

/// The character-level GPT of the course: token and position embeddings, `nLayer` blocks,
/// a final LayerNorm and a linear head to logits over the vocabulary. It follows Karpathy's
/// "Let's build GPT" model, and its checkpoint keys are those of the Russian tutorial's PyTorch
/// `GPTLanguageModel` (`token_embedding_table.weight`, `blocks.0.sa.heads.1.query.weight`,
/// `blocks.0.ffwd.net.0.weight`, `ln_f.weight`, `lm_head.weight`), so a `state_dict` saved
/// from PyTorch loads as it is.
///
/// ```swift
/// let model = GPT(GPTConfig(vocabSize: 65, blockSize: 128, nEmbd: 128, nHead: 4, nLayer: 4))
/// let (logits, loss) = model.forward([[1, 2, 3]], targets: [[2, 3, 4]])
/// ```
public final class GPT: Module {
  /// The model's shape.
  public let config: GPTConfig
  /// A vector for each token, `[vocab, C]`.
  @Child(key: "token_embedding_table") public var tokenEmbedding: Embedding
  /// A vector for each position, `[blockSize, C]`.
  @Child(key: "position_embedding_table") public var positionEmbedding: Embedding
  /// The transformer blocks.
  public let blocks: [Block]
  /// The final LayerNorm.
  @Child(key: "ln_f") public var lnF: LayerNorm
  /// Maps the residual stream to logits over the vocabulary.
  @Child(key: "lm_head") public var lmHead: Linear

  /// A model with fresh weights: N(0, 0.02) for linear and embedding weights, zero biases,
  /// as nanoGPT initialises them.
  public init(_ config: GPTConfig) {
    self.config = config
    let tokenEmbedding = Embedding(config.vocabSize, config.nEmbd)
    let positionEmbedding = Embedding(config.blockSize, config.nEmbd)
    blocks = (0..<config.nLayer).map { _ in
      Block(
        nEmbd: config.nEmbd, nHead: config.nHead, blockSize: config.blockSize,
        dropout: config.dropout)
    }
    let lnF = LayerNorm(config.nEmbd)
    let lmHead = Linear(config.nEmbd, config.vocabSize)
    super.init()
    // Keyed children are set after super.init, as for any property wrapper with arguments.
    (self.tokenEmbedding, self.positionEmbedding) = (tokenEmbedding, positionEmbedding)
    (self.lnF, self.lmHead) = (lnF, lmHead)
    for (_, module) in namedModules {
      if let linear = module as? Linear {
        linear.weight.scalars = Tensor.randn(linear.weight.shape).scalars.map { $0 * 0.02 }
        linear.bias?.scalars = [Float](repeating: 0, count: linear.outFeatures)
      } else if let embedding = module as? Embedding {
        embedding.weight.scalars = Tensor.randn(embedding.weight.shape).scalars.map { $0 * 0.02 }
      }
    }
  }

  /// Logits `[B, T, vocab]` for a batch of token sequences of equal length, and, given
  /// targets, the mean cross-entropy of predicting each next token.
  public func forward(_ tokens: [[Int]], targets: [[Int]]? = nil) -> (logits: Tensor, loss: Tensor?)
  {
    let logits = forward(tokens, cache: nil)
    guard let targets else { return (logits, nil) }
    guard targets.count == tokens.count, zip(targets, tokens).allSatisfy({ $0.count == $1.count })
    else {
      fatalError("GPT.forward: targets must have the same shape as tokens")
    }
    let loss = logits.reshaped([-1, config.vocabSize]).crossEntropy(targets.flatMap { $0 })
    return (logits, loss)
  }

  /// The forward pass, continuing the sequences in `cache` when one is given (batch of 1).
  public func forward(_ tokens: [[Int]], cache: KVCache?) -> Tensor {
    let length = tokens.first?.count ?? 0
    let start = cache?.length ?? 0
    guard !tokens.isEmpty, length > 0, tokens.allSatisfy({ $0.count == length }) else {
      fatalError("GPT.forward: needs a non-empty batch of sequences of equal length")
    }
    guard start + length <= config.blockSize else {
      fatalError(
        "GPT.forward: \(start + length) positions exceed the block size \(config.blockSize)")
    }
    for token in tokens.joined() where token < 0 || token >= config.vocabSize {
      fatalError("GPT.forward: token \(token) is outside the vocabulary of \(config.vocabSize)")
    }
    let positions = positionEmbedding(Array(start..<(start + length)))  // [T, C]
    var x = tokenEmbedding(tokens) + positions  // [B, T, C]
    for (index, block) in blocks.enumerated() {
      x = block.forward(x, cache: cache?.layers[index])
    }
    cache?.length += length
    return lmHead(lnF(x))  // [B, T, vocab]
  }
}
