extension Module {
  /// Turns the model's linear layers into 4-bit ones, as loading with transformers'
  /// `BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=...)` does: each `Linear` and
  /// `Conv1D` (its weight transposed to `[out, in]`, as transformers stores a 4-bit GPT-2)
  /// becomes a 4-bit layer whose weight stays packed; biases stay float. Layers named in
  /// `skipping` stay float: by default the output head, which transformers keeps in full
  /// precision (and which GPT-2 ties to its embedding).
  ///
  /// ```swift
  /// let model = try GPT2.load(from: folder)
  /// try model.quantize(.nf4, doubleQuantization: true)  // QLoRA's base
  /// try applyLoRA(to: model, targets: ["c_attn"], rank: 8, alpha: 16)
  /// ```
  ///
  /// - Returns: the names of the layers quantized.
  /// - Throws: `ModuleError.unsupportedTarget` for a layer that already has LoRA: quantize
  ///   the base first, then add adapters, as QLoRA does.
  @discardableResult
  public func quantize(
    _ dataType: FourBitType = .nf4, blockSize: Int = 64, doubleQuantization: Bool = true,
    skipping: [String] = ["lm_head"]
  ) throws -> [String] {
    var quantized: [String] = []
    for (name, parent, key, layer) in linearLayers() {
      let lastName = name.split(separator: ".").last.map(String.init) ?? name
      guard !skipping.contains(name), !skipping.contains(lastName), !layer.isQuantized
      else { continue }
      guard type(of: layer) == Linear.self || type(of: layer) == Conv1D.self else {
        throw ModuleError.unsupportedTarget(name, type: String(describing: type(of: layer)))
      }
      let weight = layer.layout == .outIn ? layer.weight : layer.weight.mT
      let packed = FourBitWeight(
        quantizing: weight, as: dataType, blockSize: blockSize,
        doubleQuantization: doubleQuantization)
      try parent.replaceChild(named: key, with: Linear(quantized: packed, bias: layer.bias))
      quantized.append(name)
    }
    return quantized
  }

  /// Turns every 4-bit or 8-bit layer back into a float `Linear` holding its dequantized weight, as
  /// PEFT's `dequantize_bnb_weight` does before an exact merge. A LoRA layer over a 4-bit
  /// base keeps its adapters, over the float weight.
  ///
  /// - Returns: the names of the layers dequantized.
  @discardableResult
  public func dequantize() -> [String] {
    var names: [String] = []
    for (name, parent, key, layer) in linearLayers() {
      guard layer.isQuantized else { continue }
      if let lora = layer as? LoRALinear {
        lora.unmerge()
        lora.storage = .dense(lora.weight)
      } else {
        try! parent.replaceChild(named: key, with: Linear(weight: layer.weight, bias: layer.bias))
      }
      names.append(name)
    }
    return names
  }

  /// Every `Linear` below this module, with its full name, its parent and its key there.
  private func linearLayers() -> [(String, Module, String, Linear)] {
    namedModules.flatMap { parentName, parent in
      parent.namedChildren.compactMap { key, child in
        guard let layer = child as? Linear else { return nil }
        return (parentName.isEmpty ? key : "\(parentName).\(key)", parent, key, layer)
      }
    }
  }
}
