import Foundation

/// GPT-2's MLP: `c_fc` to `n_inner`, the activation, `c_proj` back, dropout.
public final class GPT2MLP: Module {
  /// `[C] -> [n_inner]`.
  @Child(key: "c_fc") public var cFc: Linear
  /// `[n_inner] -> [C]`.
  @Child(key: "c_proj") public var cProj: Linear
  let dropout: Dropout
  let activation: String

  init(_ config: GPT2Config, path: String, projections: GPT2.Projections) {
    activation = config.activation
    dropout = Dropout(config.residPdrop)
    let cFc = projections(path + ".c_fc", config.nInner, config.nEmbd)
    let cProj = projections(path + ".c_proj", config.nEmbd, config.nInner)
    super.init()
    (self.cFc, self.cProj) = (cFc, cProj)
  }

  /// The input through both layers.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    let hidden = cFc(x)
    let activated: Tensor
    switch activation {
    case "gelu": activated = hidden.gelu()
    case "relu": activated = hidden.relu()
    default: activated = hidden.geluTanh()
    }
    return dropout(cProj(activated))
  }
}

/// A GPT-2 block: `x + attn(ln_1(x))`, then `+ mlp(ln_2(·))`.
public final class GPT2Block: Module {
  /// Normalises the input of attention.
  @Child(key: "ln_1") public var ln1: LayerNorm
  /// Self-attention.
  @Child public var attn: GPT2Attention
  /// Normalises the input of the MLP.
  @Child(key: "ln_2") public var ln2: LayerNorm
  /// The MLP.
  @Child public var mlp: GPT2MLP

  init(_ config: GPT2Config, layer: Int, projections: GPT2.Projections) {
    let ln1 = LayerNorm(config.nEmbd, eps: config.layerNormEpsilon)
    let ln2 = LayerNorm(config.nEmbd, eps: config.layerNormEpsilon)
    let path = "transformer.h.\(layer)"
    attn = GPT2Attention(config, layer: layer, path: path + ".attn", projections: projections)
    mlp = GPT2MLP(config, path: path + ".mlp", projections: projections)
    super.init()
    (self.ln1, self.ln2) = (ln1, ln2)
  }

  /// The block's output for `x` [B, T, C].
  public override func callAsFunction(_ x: Tensor) -> Tensor { forward(x, cache: nil) }

  func forward(_ x: Tensor, cache: KVCache.Entry?) -> Tensor {
    let attended = x + attn.attend(ln1(x), cache: cache)
    return attended + mlp(ln2(attended))
  }
}

/// The transformer of GPT-2 without its head, transformers' `GPT2Model`: token and position
/// embeddings (`wte`, `wpe`), the blocks `h.0`, `h.1`, …, and `ln_f`.
public final class GPT2Model: Module {
  /// A vector for each token, `[vocab, C]`.
  @Child public var wte: Embedding
  /// A vector for each position, `[n_positions, C]`.
  @Child public var wpe: Embedding
  /// The blocks.
  public let h: [GPT2Block]
  /// The final LayerNorm.
  @Child(key: "ln_f") public var lnF: LayerNorm
  let dropout: Dropout

  init(_ config: GPT2Config, projections: GPT2.Projections) {
    wte = Embedding(config.vocabSize, config.nEmbd)
    wpe = Embedding(config.nPositions, config.nEmbd)
    h = (0..<config.nLayer).map { GPT2Block(config, layer: $0, projections: projections) }
    dropout = Dropout(config.embdPdrop)
    let lnF = LayerNorm(config.nEmbd, eps: config.layerNormEpsilon)
    super.init()
    self.lnF = lnF
  }
}

/// GPT-2 in Hugging Face's layout, transformers' `GPT2LMHeadModel`: `transformer` (a
/// `GPT2Model`) and `lm_head`, tied to `transformer.wte`. Parameter names are transformers'
/// (`transformer.h.0.attn.c_attn.weight`), and the projections are `Conv1D`s holding their
/// weights `[in, out]`, so a `model.safetensors` from the hub and a PEFT adapter saved for
/// GPT-2 load without renaming.
///
/// ```swift
/// let model = try GPT2.load(from: URL(fileURLWithPath: "models/gpt2"))
/// let (logits, loss) = model.forward([[464, 2068, 7586]], labels: [[464, 2068, 7586]])
/// try applyLoRA(to: model, config: AdapterConfig(r: 8, loraAlpha: 16, targetModules: .names(["c_attn"])))
/// ```
public final class GPT2: Module {
  /// The model's shape and settings.
  public let config: GPT2Config
  /// The transformer.
  @Child public var transformer: GPT2Model
  /// Maps the residual stream to logits; its weight is `transformer.wte.weight` when tied.
  @Child(key: "lm_head") public var lmHead: Linear

  /// Makes each projection layer from its full name (`transformer.h.0.attn.c_attn`) and its
  /// output and input sizes: a fresh `Conv1D`, or a layer that a loader already has.
  typealias Projections = (_ path: String, _ outFeatures: Int, _ inFeatures: Int) -> Linear

  /// A model with fresh weights, initialised as transformers does: N(0, 0.02) for
  /// embeddings and projections, zero biases, unit layer norms.
  public convenience init(_ config: GPT2Config) {
    self.init(config) { _, outFeatures, inFeatures in Conv1D(nf: outFeatures, nx: inFeatures) }
  }

  /// A model whose projections `projections` makes; the rest initialised as `init(_:)` does.
  init(_ config: GPT2Config, projections: Projections) {
    if let problem = config.problem { preconditionFailure("GPT2Config \(problem)") }
    self.config = config
    let transformer = GPT2Model(config, projections: projections)
    self.transformer = transformer
    for (_, module) in transformer.namedModules {
      if let embedding = module as? Embedding {
        embedding.weight.scalars = Tensor.randn(embedding.weight.shape).scalars.map { $0 * 0.02 }
      }
    }
    let lmHead =
      config.tieWordEmbeddings
      ? Linear(weight: transformer.wte.weight)
      : Linear(weight: Tensor.randn([config.vocabSize, config.nEmbd], requiresGrad: true) * 0.02)
    lmHead.weight.requiresGrad = true
    super.init()
    self.lmHead = lmHead
  }

  /// Logits `[B, T, vocab]` for a batch of token sequences of equal length and, given
  /// `labels` (usually the tokens themselves), the mean cross-entropy of predicting each
  /// label from the positions before it, as `model(input_ids, labels=labels)` computes it:
  /// the logits are shifted one place against the labels inside. Labels of −100
  /// (`Tensor.ignoredTarget`) mark padding and are left out of the mean, as there.
  public func forward(_ tokens: [[Int]], labels: [[Int]]? = nil) -> (logits: Tensor, loss: Tensor?)
  {
    let length = tokens.first?.count ?? 0
    guard !tokens.isEmpty, length > 0, tokens.allSatisfy({ $0.count == length }) else {
      fatalError("GPT2.forward: needs a non-empty batch of sequences of equal length")
    }
    let logits = forward(tokens, cache: nil)
    guard let labels else { return (logits, nil) }
    guard labels.count == tokens.count, labels.allSatisfy({ $0.count == length }) else {
      fatalError("GPT2.forward: labels must have the shape of the tokens")
    }
    guard length > 1 else { fatalError("GPT2.forward: a loss needs at least 2 positions") }
    // Each position predicts the next label; the last has none to predict, so it is ignored
    // rather than sliced off, which would copy the logits (100 MB for GPT-2 small's batch)
    // and scatter their gradient back.
    let targets = labels.flatMap { $0.dropFirst() + [Tensor.ignoredTarget] }
    return (logits, logits.reshaped([-1, config.vocabSize]).crossEntropy(targets))
  }

  /// Logits for `tokens`, continuing the sequence in `cache` when one is given (batch of 1).
  public func forward(_ tokens: [[Int]], cache: KVCache?) -> Tensor {
    let length = tokens[0].count
    let start = cache?.length ?? 0
    guard start + length <= config.nPositions else {
      fatalError(
        "GPT2.forward: \(start + length) positions exceed n_positions \(config.nPositions)")
    }
    for token in tokens.joined() where token < 0 || token >= config.vocabSize {
      fatalError("GPT2.forward: token \(token) is outside the vocabulary of \(config.vocabSize)")
    }
    let positions = transformer.wpe(Array(start..<(start + length)))
    var x = transformer.dropout(transformer.wte(tokens) + positions)
    for (index, block) in transformer.h.enumerated() {
      x = block.forward(x, cache: cache?.layers[index])
    }
    cache?.length += length
    return lmHead(transformer.lnF(x))  // [B, T, vocab]
  }
}

extension GPT2: CausalLanguageModel {
  /// The most positions it attends over: its `n_positions`.
  public var contextLength: Int { config.nPositions }
  /// The number of logits per position.
  public var vocabularySize: Int { config.vocabSize }
  /// An empty cache for this model's layers and heads.
  public func makeCache() -> KVCache {
    KVCache(layers: config.nLayer, heads: config.nHead)
  }
}
