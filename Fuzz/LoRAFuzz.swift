// libFuzzer targets for the library's file readers, compiled into the LoRA module by
// `Scripts/fuzz` with `-sanitize=fuzzer`.
//
// `FUZZ_TARGET` picks the target:
// - `safetensors`: a `.safetensors` file, then every tensor it lists, read as float32.
// - `adapter-config`: an `adapter_config.json`, parsed and checked as PEFT's LoRA config,
//   then its module selection run over a small GPT's names.
// - `checkpoint`: a GPT checkpoint description (`NAME.json`), decoded and checked.
// - `tokenizer`: a saved CharTokenizer; the input's text is encoded with it and its
//   bytes decoded as ids.
// - `bpe`: the input as text through the GPT-2 tokenizer of the test fixtures (encode, then
//   decode must give the text back), its bytes decoded as ids, and the input read as a
//   `tokenizer.json`.
// - `saved-state`: a cached block's saved state as the cell cache stores it (a safetensors
//   file whose metadata holds the layout), restored into a small GPT with LoRA and into an
//   AdamW over it: refused or restored, never a trap.
// - `quantized`: a `.safetensors` file read as a 4-bit model's weights (packed codes, scales,
//   double quantization, the JSON state) and as an 8-bit one's, each weight that reads
//   dequantized and multiplied.
// - `cache-entry`: the cell cache's reader (LessonRuntimeFuzz.swift).
// - `write-log`: the write hook's log, as a cached block reads it (LessonRuntimeFuzz.swift).
import Foundation

private let target = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
private let gpt = GPT(GPTConfig(vocabSize: 5, blockSize: 4, nEmbd: 4, nHead: 2, nLayer: 2))

/// libFuzzer's entry point: runs the target that `FUZZ_TARGET` names on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  let data = Data(bytes: start, count: count)
  switch target {
  case "safetensors": fuzzSafetensors(data)
  case "adapter-config": fuzzAdapterConfig(data)
  case "checkpoint": fuzzCheckpoint(data)
  case "tokenizer": fuzzTokenizer(data)
  case "bpe": fuzzBPE(data)
  case "quantized": fuzzQuantized(data)
  case "saved-state": fuzzSavedState(data)
  case "cache-entry": fuzzCacheEntry(data)
  case "write-log": fuzzWriteLog(data)
  default:
    fatalError(
      "FUZZ_TARGET must be safetensors, adapter-config, checkpoint, tokenizer, bpe, "
        + "quantized, saved-state, cache-entry or write-log, not '\(target)'")
  }
  return 0
}

private func fuzzSafetensors(_ data: Data) {
  guard let file = try? Safetensors(data: data, source: "fuzz.safetensors") else { return }
  // What was read writes back and reads again to the same tensors.
  let again = try! Safetensors(data: file.encoded())
  precondition(again.tensors.keys.sorted() == file.tensors.keys.sorted())
}

private func fuzzQuantized(_ data: Data) {
  guard let file = try? Safetensors(data: data, source: "fuzz.safetensors") else { return }
  for config in [QuantizationConfig.fourBit(.nf4, doubleQuantization: true), .eightBit] {
    var floats = file.tensors
    guard
      let layers = try? Linear.Storage.quantizedLayers(
        from: &floats, bytes: file.byteTensors, config: config)
    else { continue }
    for storage in layers.values {
      // A weight that reads is whole: it dequantizes, and a row and a batch go through it.
      let layer = Linear(storage: storage, bias: nil)
      guard layer.inFeatures * layer.outFeatures <= 1 << 16 else { continue }
      precondition(layer.weight.count == layer.inFeatures * layer.outFeatures)
      for rows in [1, 3] {
        let output = layer(Tensor.ones([rows, layer.inFeatures]))
        precondition(output.shape == [rows, layer.outFeatures])
      }
    }
  }
}

/// A small GPT with LoRA on its queries and its AdamW, one step in: what the saved states of
/// `saved-state` and `cache-entry` are restored into.
func smallTrainedGPT() -> (model: GPT, optimizer: AdamW) {
  let model = GPT(GPTConfig(vocabSize: 5, blockSize: 4, nEmbd: 4, nHead: 2, nLayer: 1))
  _ = try! applyLoRA(to: model, targets: ["query"], rank: 2, alpha: 4)
  let optimizer = AdamW(model.trainableParameters, learningRate: 1e-2)
  let loss = model.forward([[1, 2, 3, 4]], targets: [[2, 3, 4, 0]]).loss!
  loss.backward()
  optimizer.step()
  return (model, optimizer)
}

/// The model and optimizer `saved-state` restores into, and the state they save: the
/// seeds (`Fuzz/Corpus/saved-state`) are that state after a step, written by the harness
/// when `FUZZ_WRITE_SEEDS` names a folder.
private let stateTarget: (model: GPT, optimizer: AdamW) = {
  let (model, optimizer) = smallTrainedGPT()
  if let folder = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {
    for (name, value) in [
      ("model", try! model.savedState()), ("adamw", try! optimizer.savedState()),
    ] {
      let file = Safetensors(
        tensors: value.tensors, metadata: ["layout": String(decoding: value.layout, as: UTF8.self)])
      try! file.write(to: URL(fileURLWithPath: "\(folder)/seed-\(name).safetensors"))
    }
  }
  return (model, optimizer)
}()

private func fuzzSavedState(_ data: Data) {
  let (model, optimizer) = stateTarget
  guard let file = try? Safetensors(data: data, source: "fuzz.safetensors") else { return }
  let state = SavedState(layout: Data((file.metadata["layout"] ?? "").utf8), tensors: file.tensors)
  _ = try? model.restore(state)
  _ = try? optimizer.restore(state)
}

private func fuzzAdapterConfig(_ data: Data) {
  guard let json = try? JSONValue(parsing: data) else { return }
  _ = json.serialized()
  guard let config = try? AdapterConfig(json: json, path: "adapter_config.json") else { return }
  _ = try? config.selectModules(in: gpt)
  _ = config.json.serialized()
}

private func fuzzCheckpoint(_ data: Data) {
  guard let checkpoint = try? GPTCheckpoint(json: data, path: "fuzz.json") else { return }
  // A checkpoint that decodes describes a model that can be built: keep it small enough
  // to build on every input.
  let config = checkpoint.config
  if config.vocabSize * config.nEmbd < 1 << 16, config.blockSize * config.nEmbd < 1 << 16,
    config.nLayer * config.nEmbd * config.nEmbd < 1 << 18
  {
    _ = GPT(config)
  }
}

private func fuzzTokenizer(_ data: Data) {
  guard let tokenizer = try? JSONDecoder().decode(CharTokenizer.self, from: data) else { return }
  let text = String(decoding: data, as: UTF8.self)
  if let ids = try? tokenizer.encode(text) {
    precondition(tokenizer.decode(ids) == text, "decode(encode(text)) != text")
  }
  _ = tokenizer.decode(data.map { Int($0) - 2 })
}

/// The byte-level BPE of the GPT-2 fixtures (Scripts/fuzz runs from the package root).
private let bpe = try! GPT2Tokenizer.load(
  from: URL(fileURLWithPath: "Tests/LoRATests/Fixtures/gpt2/tokenizer"))

private func fuzzBPE(_ data: Data) {
  let text = String(decoding: data, as: UTF8.self)
  if bpe.decode(bpe.encode(text)) != text { fatalError("decode(encode(text)) != text") }
  _ = bpe.decode(data.map { Int($0) * 4 - 8 })
  _ = try? GPT2Tokenizer(tokenizerJSON: data, path: "tokenizer.json")
}
