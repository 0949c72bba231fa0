import Foundation

extension GPT2 {
  /// Opens a model folder as transformers' `from_pretrained` does: `config.json`, and the
  /// weights in `model.safetensors` or in the shards that `model.safetensors.index.json`
  /// lists. A folder from a Hugging Face cache
  /// (`~/.cache/huggingface/hub/models--gpt2/snapshots/<hash>/`, whose files are links into
  /// `blobs/`) works as it is.
  ///
  /// - Keys are accepted with and without the `transformer.` prefix (the hub's original
  ///   `gpt2` has none); the `attn.bias` and `attn.masked_bias` buffers that older
  ///   transformers saved are skipped, as transformers skips them; a tied `lm_head.weight`
  ///   is skipped too, since it is `wte`'s.
  /// - F16 and BF16 weights are converted to F32.
  /// - A folder that transformers saved with bitsandbytes (`quantization_config` in
  ///   `config.json`) keeps its linear layers quantized: in 4 bits (NF4 or FP4, with or
  ///   without double quantization) as `FourBitWeight`s, in 8 bits (LLM.int8) as
  ///   `EightBitWeight`s.
  /// - A folder with only `pytorch_model.bin` is refused with the command that converts it.
  /// - Every other mismatch (a missing or extra key, a shape) is a `GPT2FileError` naming the
  ///   file, the key and the shapes.
  public static func load(from folder: URL) throws -> GPT2 {
    let configURL = folder.appendingPathComponent("config.json")
    guard let configData = FileManager.default.contents(atPath: configURL.path) else {
      throw GPT2FileError(
        path: folder.path,
        reason: "has no config.json; a model folder holds config.json and model.safetensors")
    }
    let config = try GPT2Config(json: configData, path: configURL.path)
    let quantization = try QuantizationConfig(json: configData, path: configURL.path)
    let (file, source) = try readWeights(in: folder)
    func modelName(_ key: String) -> String {
      key.hasPrefix("transformer.") || key.hasPrefix("lm_head.") ? key : "transformer." + key
    }
    var renamed: [String: Tensor] = [:]
    for (key, tensor) in file.tensors {
      let name = modelName(key)
      if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") { continue }
      if name == "lm_head.weight", config.tieWordEmbeddings { continue }
      renamed[name] = tensor
    }
    let bytes = Dictionary(
      file.byteTensors.map { (modelName($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
    // A quantized layer is made from its packed weight directly: no float copy of it is made.
    var quantized: [String: Linear.Storage]
    do {
      quantized = try Linear.Storage.quantizedLayers(
        from: &renamed, bytes: bytes, config: quantization)
    } catch let error as QuantizationError {
      throw GPT2FileError(path: source, reason: "stores \(error)")
    }
    var misfits: [String] = []
    let model = GPT2(config) { path, outFeatures, inFeatures in
      guard let storage = quantized.removeValue(forKey: path) else {
        return Conv1D(nf: outFeatures, nx: inFeatures)
      }
      let layer = Linear(storage: storage, bias: .zeros([outFeatures], requiresGrad: true))
      if [layer.outFeatures, layer.inFeatures] != [outFeatures, inFeatures] {
        misfits.append(
          "\(path).weight has shape \([layer.outFeatures, layer.inFeatures]); the model needs "
            + "\([outFeatures, inFeatures])")
      }
      return layer
    }
    if let misfit = misfits.first
      ?? quantized.keys.sorted().first.map({
        "\($0).weight is quantized, but the model has no such layer"
      })
    {
      throw GPT2FileError(
        path: source, reason: "stores a quantized weight that does not fit: \(misfit)")
    }
    do {
      try model.loadWeights(renamed)
    } catch let error as ModuleError {
      throw GPT2FileError(path: source, reason: "does not fit the model of config.json: \(error)")
    }
    return model
  }

  /// The tensors of the folder's weights, and the file (or index) they came from.
  private static func readWeights(in folder: URL) throws -> (Safetensors, String) {
    let single = folder.appendingPathComponent("model.safetensors")
    let index = folder.appendingPathComponent("model.safetensors.index.json")
    let exists = { (url: URL) in FileManager.default.fileExists(atPath: url.path) }
    if exists(single) {
      return (try Safetensors(contentsOf: single), single.path)
    }
    if exists(index) {
      return (try readShards(index: index, in: folder), index.path)
    }
    let bin = folder.appendingPathComponent("pytorch_model.bin")
    if exists(bin) {
      throw GPT2FileError(
        path: bin.path,
        reason: """
          is a pickled PyTorch checkpoint, which this library does not read (unpickling \
          runs code). Convert it once with transformers, which writes model.safetensors \
          beside it:
            python -c "from transformers import GPT2LMHeadModel as M; \
          M.from_pretrained('\(folder.path)').save_pretrained('\(folder.path)')"
          """)
    }
    throw GPT2FileError(
      path: folder.path,
      reason: "has no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
  }

  /// The tensors of every shard that `index` maps, each shard read once; a key the index
  /// names but its shard lacks is an error.
  private static func readShards(index: URL, in folder: URL) throws -> Safetensors {
    guard let data = FileManager.default.contents(atPath: index.path),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let map = object["weight_map"] as? [String: String]
    else {
      throw GPT2FileError(path: index.path, reason: "has no weight_map of key to file names")
    }
    var tensors = Safetensors(tensors: [:])
    for shard in Set(map.values).sorted() {
      guard !shard.contains("/"), !shard.hasPrefix(".") else {
        throw GPT2FileError(path: index.path, reason: "names a shard outside its folder: \(shard)")
      }
      let url = folder.appendingPathComponent(shard)
      let file = try Safetensors(contentsOf: url)
      for key in map.filter({ $0.value == shard }).keys {
        if let tensor = file.tensors[key] {
          tensors.tensors[key] = tensor
        } else if let bytes = file.byteTensors[key] {
          tensors.byteTensors[key] = bytes
        } else {
          throw GPT2FileError(
            path: url.path, reason: "lacks \(key), which \(index.lastPathComponent) places in it")
        }
      }
    }
    return tensors
  }
}
