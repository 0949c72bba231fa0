import Foundation

/// The `quantization_config` of a model's `config.json`, as transformers writes it for a
/// model loaded with a `BitsAndBytesConfig` and saved with `save_pretrained`.
public struct QuantizationConfig: Sendable, Equatable {
  /// The 4-bit data type.
  public let type: FourBitType
  /// Whether the block scales are quantized too (`bnb_4bit_use_double_quant`).
  public let doubleQuantization: Bool

  /// The config's `quantization_config`, or `nil` when it has none.
  ///
  /// - Throws: `GPT2FileError` naming `path` for a quantization this library does not read:
  ///   another method than bitsandbytes, or 8-bit (LLM.int8) weights.
  init?(json: Data, path: String) throws {
    guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
      let config = object["quantization_config"] as? [String: Any]
    else { return nil }
    let method = config["quant_method"] as? String ?? "bitsandbytes"
    guard method == "bitsandbytes" else {
      throw GPT2FileError(
        path: path,
        reason: "has quantization_config with quant_method \"\(method)\"; only bitsandbytes' "
          + "4-bit weights (load_in_4bit) can be read")
    }
    if config["load_in_8bit"] as? Bool == true || config["_load_in_8bit"] as? Bool == true {
      throw GPT2FileError(
        path: path,
        reason: "holds 8-bit (LLM.int8) weights, which this library does not read; save the "
          + "model with load_in_4bit, or without quantization")
    }
    guard config["load_in_4bit"] as? Bool == true || config["_load_in_4bit"] as? Bool == true
    else { return nil }
    let typeName = config["bnb_4bit_quant_type"] as? String ?? "fp4"
    guard let type = FourBitType(rawValue: typeName) else {
      throw GPT2FileError(
        path: path, reason: "gives bnb_4bit_quant_type \"\(typeName)\"; nf4 or fp4 can be read")
    }
    self.type = type
    doubleQuantization = config["bnb_4bit_use_double_quant"] as? Bool ?? false
  }
}

extension Module {
  /// Replaces each linear layer whose weight `tensors` and `bytes` hold in 4 bits with a
  /// 4-bit layer, taking its weight and its quantization state out of `tensors`, so that
  /// what is left (the biases among it) loads as plain weights.
  ///
  /// - Throws: `QuantizationError` naming the tensor when a stored weight is quantized but
  ///   `config` is `nil`, or its parts do not fit together.
  func loadQuantizedLayers(
    from tensors: inout [String: Tensor], bytes: [String: ByteTensor], config: QuantizationConfig?,
    source: String
  ) throws {
    let weights = bytes.keys.filter { key in
      key.hasSuffix(".weight")
        && FourBitType.allCases.contains {
          bytes["\(key).quant_state.bitsandbytes__\($0.rawValue)"] != nil
        }
    }.sorted()
    let stray = bytes.keys.filter { key in
      !weights.contains(key) && !weights.contains { key.hasPrefix($0 + ".") }
    }.sorted()
    if let key = stray.first {
      throw QuantizationError(
        tensor: key,
        reason: "is stored as \(bytes[key]!.dtype) but is not part of a 4-bit weight (no "
          + "quant_state beside it)")
    }
    guard !weights.isEmpty else { return }
    guard config != nil else {
      throw QuantizationError(
        tensor: weights[0],
        reason: "is a 4-bit weight, but config.json has no quantization_config saying so")
    }
    let parents = Dictionary(
      namedModules.flatMap { parentName, parent in
        parent.namedChildren.map { key, _ in
          (parentName.isEmpty ? key : "\(parentName).\(key)", (parent, key))
        }
      }, uniquingKeysWith: { first, _ in first })
    for key in weights {
      let path = String(key.dropLast(".weight".count))
      guard let (parent, childKey) = parents[path],
        let layer = parent.namedChildren.first(where: { $0.name == childKey })?.module as? Linear
      else {
        throw QuantizationError(tensor: key, reason: "names no linear layer of the model")
      }
      let weight = try FourBitWeight.read(key, floats: tensors, bytes: bytes)
      let expected = [layer.outFeatures, layer.inFeatures]
      guard weight.shape == expected else {
        throw QuantizationError(
          tensor: key, reason: "has shape \(weight.shape); the model's layer needs \(expected)")
      }
      for suffix in FourBitWeight.stateSuffixes { tensors[key + suffix] = nil }
      // The layer keeps its bias tensor, which the plain load that follows fills.
      try parent.replaceChild(named: childKey, with: Linear(quantized: weight, bias: layer.bias))
    }
  }
}
