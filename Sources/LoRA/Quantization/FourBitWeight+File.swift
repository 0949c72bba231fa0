import Foundation

extension FourBitWeight {
  /// The suffixes of the tensors a saved 4-bit weight adds beside its packed codes.
  static let stateSuffixes = [
    ".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
    ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4",
  ]

  /// Reads the 4-bit weight `name` (`transformer.h.0.attn.c_attn.weight`, say) as
  /// transformers saves it with bitsandbytes: the packed codes under `name`, and beside them
  /// `name.absmax`, `name.quant_map`, with double quantization `name.nested_absmax` and
  /// `name.nested_quant_map`, and `name.quant_state.bitsandbytes__nf4` (or `__fp4`), a JSON
  /// object of the type, block sizes, shape and offset stored as bytes.
  ///
  /// - Throws: `QuantizationError` naming the tensor when a part is missing, has the wrong
  ///   type or size, or the JSON state cannot be read.
  static func read(
    _ name: String, floats: [String: Tensor], bytes: [String: ByteTensor]
  ) throws -> FourBitWeight {
    func fail(_ key: String, _ reason: String) -> QuantizationError {
      QuantizationError(tensor: key, reason: reason)
    }
    guard let packed = bytes[name], packed.dtype == "U8" else {
      throw fail(name, "is missing or not U8; a 4-bit weight stores its codes as bytes")
    }
    let stateKeys = FourBitType.allCases.map { "\(name).quant_state.bitsandbytes__\($0.rawValue)" }
    guard let stateKey = stateKeys.first(where: { bytes[$0] != nil }),
      let stateBytes = bytes[stateKey]
    else {
      throw fail(name, "has no quant_state.bitsandbytes__nf4 (or __fp4) beside it")
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(stateBytes.bytes)),
      let state = object as? [String: Any]
    else {
      throw fail(stateKey, "is not a JSON object; the file is truncated or corrupt")
    }
    guard let typeName = state["quant_type"] as? String, let type = FourBitType(rawValue: typeName),
      stateKey.hasSuffix("__" + typeName)
    else {
      throw fail(
        stateKey,
        "names quant_type \(state["quant_type"] ?? "nothing"); nf4 or fp4, as its key says")
    }
    guard let blockSize = state["blocksize"] as? Int, let shape = state["shape"] as? [Int] else {
      throw fail(stateKey, "lacks blocksize or shape")
    }
    if let dtype = state["dtype"] as? String, !["float32", "float16", "bfloat16"].contains(dtype) {
      throw fail(
        stateKey, "gives dtype \(dtype); 4-bit weights dequantize to float32, float16 or bfloat16")
    }
    guard let levels = floats[name + ".quant_map"] else {
      throw fail(name + ".quant_map", "is missing or not a float tensor")
    }
    let scales: BlockScales
    if let nestedScales = floats[name + ".nested_absmax"] {
      guard let codes = bytes[name + ".absmax"], codes.dtype == "U8" else {
        throw fail(name + ".absmax", "is missing or not U8, as double quantization stores it")
      }
      guard let nestedLevels = floats[name + ".nested_quant_map"] else {
        throw fail(name + ".nested_quant_map", "is missing or not a float tensor")
      }
      guard let nestedBlock = state["nested_blocksize"] as? Int,
        let offset = (state["nested_offset"] as? NSNumber)?.floatValue
      else {
        throw fail(
          stateKey, "lacks nested_blocksize or nested_offset, which double quantization needs")
      }
      scales = .nested(
        codes: codes.bytes, levels: nestedLevels.scalars, scales: nestedScales.scalars,
        blockSize: nestedBlock, offset: offset)
    } else {
      guard let absmax = floats[name + ".absmax"] else {
        throw fail(name + ".absmax", "is missing or not a float tensor")
      }
      scales = .plain(absmax.scalars)
    }
    return try FourBitWeight(
      type: type, shape: shape, blockSize: blockSize, packedCodes: packed.bytes,
      levels: levels.scalars, scales: scales, name: name)
  }
}
