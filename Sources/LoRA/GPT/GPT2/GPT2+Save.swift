import Foundation

extension GPT2Config {
  /// `config.json` as transformers 5 writes it for `GPT2LMHeadModel`: the fields this
  /// configuration holds, with GPT-2's names, keys sorted.
  public var json: JSONValue {
    func number(_ value: Float) -> JSONValue { .number(Double(String(value))!) }
    let fields: [(key: String, value: JSONValue)] = [
      ("activation_function", .string(activation)),
      ("architectures", .array([.string("GPT2LMHeadModel")])),
      ("attn_pdrop", number(attnPdrop)),
      ("embd_pdrop", number(embdPdrop)),
      ("layer_norm_epsilon", number(layerNormEpsilon)),
      ("model_type", .string("gpt2")),
      ("n_embd", .number(Double(nEmbd))),
      ("n_head", .number(Double(nHead))),
      ("n_inner", nInner == 4 * nEmbd ? .null : .number(Double(nInner))),
      ("n_layer", .number(Double(nLayer))),
      ("n_positions", .number(Double(nPositions))),
      ("resid_pdrop", number(residPdrop)),
      ("scale_attn_by_inverse_layer_idx", .bool(scaleAttnByInverseLayerIdx)),
      ("scale_attn_weights", .bool(scaleAttnWeights)),
      ("tie_word_embeddings", .bool(tieWordEmbeddings)),
      ("vocab_size", .number(Double(vocabSize))),
    ]
    return .object(fields)
  }
}

extension GPT2 {
  /// Writes the model as `save_pretrained` does: `config.json` and `model.safetensors` with
  /// transformers' keys, the tied `lm_head.weight` left out, each file atomically. The
  /// folder is created if needed; `GPT2.load(from:)` and `from_pretrained` read it back.
  /// - Throws: `GPT2FileError` when the model holds LoRA adapters, whose layers have PEFT's
  ///   names: save the adapter with `saveAdapter(to:)`, as PEFT's `save_pretrained` does.
  public func save(to folder: URL) throws {
    guard loraLayers.isEmpty else {
      throw GPT2FileError(
        path: folder.path,
        reason:
          "not written: the model holds LoRA adapters; save them with saveAdapter(to:), and "
          + "the base model before applyLoRA")
    }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try FileWrites.write(
      Data((config.json.serialized() + "\n").utf8), to: folder.appendingPathComponent("config.json")
    )
    try saveWeights(to: folder.appendingPathComponent("model.safetensors"))
  }
}
