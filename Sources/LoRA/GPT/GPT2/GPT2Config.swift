import Foundation

/// The shape and settings of a GPT-2 model, as transformers' `GPT2Config` gives them in a
/// model folder's `config.json`.
public struct GPT2Config: Equatable, Sendable {
  /// Tokens in the vocabulary (50257 for OpenAI's GPT-2).
  public var vocabSize: Int
  /// The longest context, `n_positions`.
  public var nPositions: Int
  /// Width of the residual stream, `n_embd`.
  public var nEmbd: Int
  /// Transformer blocks, `n_layer`.
  public var nLayer: Int
  /// Attention heads per block, `n_head`.
  public var nHead: Int
  /// Width of the MLP, `n_inner`; 4 × `nEmbd` when the file says `null`.
  public var nInner: Int
  /// The MLP's activation: `gelu_new` (GPT-2's tanh form), `gelu`, `gelu_pytorch_tanh` or
  /// `relu`.
  public var activation: String
  /// `layer_norm_epsilon`.
  public var layerNormEpsilon: Float
  /// Whether attention scores are divided by √(head size).
  public var scaleAttnWeights: Bool
  /// Whether layer `i`'s attention scores are further divided by `i + 1`.
  public var scaleAttnByInverseLayerIdx: Bool
  /// Dropout on the sum of the embeddings, during training.
  public var embdPdrop: Float
  /// Dropout on the attention weights.
  public var attnPdrop: Float
  /// Dropout on each residual branch (attention and MLP outputs).
  public var residPdrop: Float
  /// Whether `lm_head` shares `wte`'s weight (true for GPT-2).
  public var tieWordEmbeddings: Bool

  /// A configuration; the defaults are GPT-2 small's (124M parameters).
  public init(
    vocabSize: Int = 50257, nPositions: Int = 1024, nEmbd: Int = 768, nLayer: Int = 12,
    nHead: Int = 12, nInner: Int? = nil, activation: String = "gelu_new",
    layerNormEpsilon: Float = 1e-5, scaleAttnWeights: Bool = true,
    scaleAttnByInverseLayerIdx: Bool = false, embdPdrop: Float = 0.1, attnPdrop: Float = 0.1,
    residPdrop: Float = 0.1, tieWordEmbeddings: Bool = true
  ) {
    self.vocabSize = vocabSize
    self.nPositions = nPositions
    self.nEmbd = nEmbd
    self.nLayer = nLayer
    self.nHead = nHead
    self.nInner = nInner ?? 4 * nEmbd
    self.activation = activation
    self.layerNormEpsilon = layerNormEpsilon
    self.scaleAttnWeights = scaleAttnWeights
    self.scaleAttnByInverseLayerIdx = scaleAttnByInverseLayerIdx
    self.embdPdrop = embdPdrop
    self.attnPdrop = attnPdrop
    self.residPdrop = residPdrop
    self.tieWordEmbeddings = tieWordEmbeddings
  }

  /// The activations the MLP can use, by their names in `config.json`.
  static let activations: Set<String> = ["gelu_new", "gelu", "gelu_pytorch_tanh", "relu"]

  /// Reads `config.json` as transformers writes it for `GPT2LMHeadModel`. Fields GPT-2 does
  /// not use are ignored, as `from_pretrained` ignores them; a field this library cannot
  /// honour (cross-attention, another model type, an unknown activation) is an error that
  /// names it.
  public init(json data: Data, path: String) throws {
    func fail(_ reason: String) -> GPT2FileError { GPT2FileError(path: path, reason: reason) }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("is not a JSON object")
    }
    func integer(_ key: String, _ fallback: Int?) throws -> Int {
      guard let value = object[key], !(value is NSNull) else {
        guard let fallback else { throw fail("has no \(key)") }
        return fallback
      }
      guard let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue) else {
        throw fail("has \(key) = \(value), which is not an integer")
      }
      return exact
    }
    func real(_ key: String, _ fallback: Float) throws -> Float {
      guard let value = object[key], !(value is NSNull) else { return fallback }
      guard let number = value as? NSNumber else {
        throw fail("has \(key) = \(value), not a number")
      }
      return number.floatValue
    }
    func flag(_ key: String, _ fallback: Bool) throws -> Bool {
      guard let value = object[key], !(value is NSNull) else { return fallback }
      guard let bool = value as? Bool else {
        throw fail("has \(key) = \(value), not true or false")
      }
      return bool
    }
    if let type = object["model_type"] as? String, type != "gpt2" {
      throw fail("describes a \(type) model; GPT2.load reads GPT-2 (model_type \"gpt2\")")
    }
    if try flag("add_cross_attention", false) {
      throw fail(
        "sets add_cross_attention, which GPT2 does not support (it is for encoder-decoders)")
    }
    let activation = object["activation_function"] as? String ?? "gelu_new"
    guard Self.activations.contains(activation) else {
      throw fail(
        "has activation_function \"\(activation)\"; supported: "
          + Self.activations.sorted().joined(separator: ", "))
    }
    let nEmbd = try integer("n_embd", 768)
    self.init(
      vocabSize: try integer("vocab_size", 50257),
      nPositions: try integer("n_positions", try integer("n_ctx", 1024)),
      nEmbd: nEmbd, nLayer: try integer("n_layer", 12), nHead: try integer("n_head", 12),
      nInner: try integer("n_inner", 4 * nEmbd), activation: activation,
      layerNormEpsilon: try real("layer_norm_epsilon", 1e-5),
      scaleAttnWeights: try flag("scale_attn_weights", true),
      scaleAttnByInverseLayerIdx: try flag("scale_attn_by_inverse_layer_idx", false),
      embdPdrop: try real("embd_pdrop", 0.1), attnPdrop: try real("attn_pdrop", 0.1),
      residPdrop: try real("resid_pdrop", 0.1),
      tieWordEmbeddings: try flag("tie_word_embeddings", true))
    if let problem { throw fail(problem) }
  }

  /// Why no model can be built with this configuration, or `nil` when one can.
  public var problem: String? {
    let sizes = [
      ("vocab_size", vocabSize), ("n_positions", nPositions), ("n_embd", nEmbd),
      ("n_layer", nLayer), ("n_head", nHead), ("n_inner", nInner),
    ]
    if let (name, value) = sizes.first(where: { $0.1 <= 0 || $0.1 > 1 << 24 }) {
      return "has \(name) = \(value); it must be between 1 and 16,777,216"
    }
    if nEmbd % nHead != 0 { return "has n_embd \(nEmbd), which n_head \(nHead) does not divide" }
    for (name, p) in [
      ("embd_pdrop", embdPdrop), ("attn_pdrop", attnPdrop), ("resid_pdrop", residPdrop),
    ]
    where !(p >= 0 && p < 1) {
      return "has \(name) = \(p); a dropout probability must be in [0, 1)"
    }
    return nil
  }
}

/// A GPT-2 model folder, or a file in it, that cannot be read or written as one.
public struct GPT2FileError: Error, CustomStringConvertible, Equatable {
  /// The folder or file.
  public let path: String
  /// What is wrong, naming the key and the shapes where there are some.
  public let reason: String

  /// A message naming what went wrong and where.
  public var description: String { "\(path): \(reason)" }
}
