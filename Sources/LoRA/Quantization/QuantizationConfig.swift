import Foundation

/// The `quantization_config` of a model's `config.json`, as transformers writes it for a
/// model loaded with a `BitsAndBytesConfig` and saved with `save_pretrained`.
public enum QuantizationConfig: Sendable, Equatable {
  /// `load_in_4bit`: the data type, and whether the block scales are quantized too
  /// (`bnb_4bit_use_double_quant`).
  case fourBit(FourBitType, doubleQuantization: Bool)
  /// `load_in_8bit`: LLM.int8's row-wise codes.
  case eightBit

  /// The config's `quantization_config`, or `nil` when it has none.
  ///
  /// - Throws: `GPT2FileError` naming `path` for a quantization this library does not read:
  ///   another method than bitsandbytes, or a 4-bit type other than NF4 and FP4.
  init?(json: Data, path: String) throws {
    guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
      let config = object["quantization_config"] as? [String: Any]
    else { return nil }
    let method = config["quant_method"] as? String ?? "bitsandbytes"
    guard method == "bitsandbytes" else {
      throw GPT2FileError(
        path: path,
        reason: "has quantization_config with quant_method \"\(method)\"; only bitsandbytes' "
          + "4-bit and 8-bit weights can be read")
    }
    func flag(_ name: String) -> Bool {
      config[name] as? Bool == true || config["_" + name] as? Bool == true
    }
    if flag("load_in_8bit") {
      self = .eightBit
      return
    }
    guard flag("load_in_4bit") else { return nil }
    let typeName = config["bnb_4bit_quant_type"] as? String ?? "fp4"
    guard let type = FourBitType(rawValue: typeName) else {
      throw GPT2FileError(
        path: path, reason: "gives bnb_4bit_quant_type \"\(typeName)\"; nf4 or fp4 can be read")
    }
    self = .fourBit(type, doubleQuantization: config["bnb_4bit_use_double_quant"] as? Bool ?? false)
  }
}

extension Linear.Storage {
  /// The quantized weights among a file's tensors, by the name of their layer
  /// (`transformer.h.0.attn.c_attn`), each taken out of `tensors` with its quantization
  /// state, so that what is left (the biases among it) loads as plain weights: 4-bit ones
  /// (`weight` U8 beside `weight.quant_state.bitsandbytes__nf4` and the rest), and 8-bit ones
  /// (`weight` I8 beside the layer's `SCB` and `weight_format`).
  ///
  /// - Throws: `QuantizationError` naming the tensor when a byte tensor is not part of a
  ///   quantized weight, a weight is quantized but `config` does not say so, or its parts do
  ///   not fit.
  static func quantizedLayers(
    from tensors: inout [String: Tensor], bytes: [String: ByteTensor], config: QuantizationConfig?
  ) throws -> [String: Linear.Storage] {
    let fourBit = bytes.keys.filter { key in
      key.hasSuffix(".weight")
        && FourBitType.allCases.contains {
          bytes["\(key).quant_state.bitsandbytes__\($0.rawValue)"] != nil
        }
    }.sorted()
    let eightBit = bytes.keys.filter { key in
      key.hasSuffix(".weight") && bytes[key]?.dtype == "I8"
    }.sorted()
    let layerOf = { (key: String) in String(key.dropLast(".weight".count)) }
    let stray = bytes.keys.filter { key in
      !fourBit.contains(key) && !fourBit.contains { key.hasPrefix($0 + ".") }
        && !eightBit.contains(key) && !eightBit.contains { key == layerOf($0) + ".weight_format" }
    }.sorted()
    if let key = stray.first {
      throw QuantizationError(
        tensor: key,
        reason: "is stored as \(bytes[key]!.dtype) but is not part of a 4-bit or 8-bit weight")
    }
    let saysFourBit: Bool
    if case .fourBit = config { saysFourBit = true } else { saysFourBit = false }
    if let key = fourBit.first, !saysFourBit {
      throw QuantizationError(
        tensor: key,
        reason: "is a 4-bit weight, but config.json's quantization_config does not say load_in_4bit"
      )
    }
    if let key = eightBit.first, config != .eightBit {
      throw QuantizationError(
        tensor: key,
        reason:
          "is an 8-bit weight, but config.json's quantization_config does not say load_in_8bit")
    }
    var layers: [String: Linear.Storage] = [:]
    for key in fourBit {
      layers[layerOf(key)] = .fourBit(try FourBitWeight.read(key, floats: tensors, bytes: bytes))
      for suffix in FourBitWeight.stateSuffixes { tensors[key + suffix] = nil }
    }
    for key in eightBit {
      let scalesKey = layerOf(key) + ".SCB"
      guard let scales = tensors.removeValue(forKey: scalesKey) else {
        throw QuantizationError(
          tensor: scalesKey, reason: "is missing: an 8-bit weight needs its row scales")
      }
      let codes = bytes[key]!
      layers[layerOf(key)] = .eightBit(
        try EightBitWeight(
          shape: codes.shape, codes: codes.bytes.map { Int8(bitPattern: $0) },
          rowScales: scales.scalars, name: key))
    }
    return layers
  }
}
