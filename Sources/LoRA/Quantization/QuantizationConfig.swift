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

extension FourBitWeight {
  /// The 4-bit weights among a file's tensors, by the name of their layer
  /// (`transformer.h.0.attn.c_attn`), each taken out of `tensors` with its quantization
  /// state, so that what is left (the biases among it) loads as plain weights.
  ///
  /// - Throws: `QuantizationError` naming the tensor when a byte tensor is not part of a
  ///   4-bit weight, a weight is quantized but `config` is `nil`, or its parts do not fit.
  static func layers(
    from tensors: inout [String: Tensor], bytes: [String: ByteTensor], config: QuantizationConfig?
  ) throws -> [String: FourBitWeight] {
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
    guard !weights.isEmpty else { return [:] }
    guard config != nil else {
      throw QuantizationError(
        tensor: weights[0],
        reason: "is a 4-bit weight, but config.json has no quantization_config saying so")
    }
    var layers: [String: FourBitWeight] = [:]
    for key in weights {
      layers[String(key.dropLast(".weight".count))] = try FourBitWeight.read(
        key, floats: tensors, bytes: bytes)
      for suffix in FourBitWeight.stateSuffixes { tensors[key + suffix] = nil }
    }
    return layers
  }
}
