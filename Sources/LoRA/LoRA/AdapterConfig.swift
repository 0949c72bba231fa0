import Foundation

/// Which modules an adapter goes on, as PEFT's `target_modules` and `exclude_modules` say it.
public enum ModuleSelector: Equatable, Sendable {
  /// Names that match a module's dotted name exactly or as a dotted suffix: `"query"`
  /// matches `blocks.0.sa.heads.1.query`.
  case names([String])
  /// A regular expression that must match the whole dotted name, as Python's
  /// `re.fullmatch`. The string `"all-linear"` (any case) means every linear layer.
  case pattern(String)
}

extension ModuleSelector: CustomStringConvertible {
  /// As in `adapter_config.json`: `["query", "value"]`, or the pattern as a JSON string.
  public var description: String {
    switch self {
    case .names(let names): return "[" + names.map(jsonString).joined(separator: ", ") + "]"
    case .pattern(let pattern): return jsonString(pattern)
    }
  }
}

/// A pattern key with its value, in the order of `rank_pattern` or `alpha_pattern`: PEFT
/// uses the first key that matches a module.
public struct PatternEntry<Value: Equatable & Sendable>: Equatable, Sendable {
  /// A regular expression matched against the end of a module's dotted name after a dot.
  public var key: String
  /// The rank or α for the modules it matches.
  public var value: Value

  /// An entry.
  public init(_ key: String, _ value: Value) {
    self.key = key
    self.value = value
  }
}

/// `adapter_config.json` as PEFT 0.21 writes it, for LoRA.
///
/// Every field PEFT writes is either honoured or refused with an `AdapterConfigError` naming
/// the field and its value; nothing is dropped silently. Honoured: `r`, `lora_alpha`,
/// `lora_dropout`, `use_rslora`, `target_modules` (a list, or a regular expression, or
/// `"all-linear"`), `exclude_modules`, `rank_pattern`, `alpha_pattern`,
/// `layers_to_transform` with `layers_pattern`, `modules_to_save`, `fan_in_fan_out` (which,
/// as in PEFT, has no effect on `torch.nn.Linear` layers), `use_dora`, `bias: "none"`, and the
/// descriptive fields (`task_type`, `base_model_name_or_path`, `revision`, `peft_version`,
/// `auto_mapping`, `inference_mode`).
/// `init_lora_weights` `"pissa"`, `"pissa_niter_N"` and `"olora"` start A and B from the
/// base weight's factors. Refused unless at their defaults: other biases, and the variants
/// that need data or more than A and B (LoftQ, EVA, CorDA, QALoRA, …).
public struct AdapterConfig: Equatable, Sendable {
  /// The default rank r.
  public var r = 8
  /// The default scaling numerator α.
  public var loraAlpha: Float = 8
  /// Dropout on the input of the LoRA path, during training.
  public var loraDropout: Float = 0
  /// Whether scaling is α/√r (rank-stabilised LoRA) rather than α/r.
  public var useRSLoRA = false
  /// Whether the adapters are DoRA's (`use_dora`): a trained magnitude per output row times
  /// the direction of the adapted weight.
  public var useDoRA = false
  /// How A and B start (`init_lora_weights`): as usual, or from the base weight's
  /// factors, moved out of the base (PiSSA, OLoRA).
  public var initLoRAWeights = LoRAInitialisation.standard
  /// The modules that get the adapter.
  public var targetModules: ModuleSelector
  /// Modules never adapted, even when `targetModules` selects them.
  public var excludeModules: ModuleSelector?
  /// Ranks other than `r`, for the modules whose names match a key.
  public var rankPattern: [PatternEntry<Int>] = []
  /// Values of α other than `loraAlpha`, for the modules whose names match a key.
  public var alphaPattern: [PatternEntry<Float>] = []
  /// Only the layers with these indices get the adapter (with list targets).
  public var layersToTransform: [Int]?
  /// The names of the layer lists the indices count in (`"blocks"`, `"h"`); `nil` for the
  /// first numbered name segment.
  public var layersPattern: [String]?
  /// Modules trained and saved in full beside the adapter (a new head, say).
  public var modulesToSave: [String]?
  /// Whether the base layer stores its weight `[in, out]` (GPT-2's Conv1D).
  public var fanInFanOut = false
  /// The task the base model serves, as PEFT's `TaskType` (`"CAUSAL_LM"`), or `nil`.
  public var taskType: String?
  /// The base model the adapter was trained on.
  public var baseModelNameOrPath: String?
  /// The base model's revision.
  public var revision: String?
  /// Whether the adapter was saved for inference.
  public var inferenceMode = true
  /// The PEFT version that wrote the file.
  public var peftVersion: String?

  /// The version of PEFT whose adapter format this library reads and writes.
  public static let peftFormatVersion = "0.21.2"

  /// A configuration with PEFT's defaults.
  public init(
    r: Int = 8, loraAlpha: Float = 8, loraDropout: Float = 0, useRSLoRA: Bool = false,
    useDoRA: Bool = false, initLoRAWeights: LoRAInitialisation = .standard,
    targetModules: ModuleSelector, excludeModules: ModuleSelector? = nil,
    rankPattern: [PatternEntry<Int>] = [], alphaPattern: [PatternEntry<Float>] = [],
    layersToTransform: [Int]? = nil, layersPattern: [String]? = nil,
    modulesToSave: [String]? = nil, taskType: String? = nil, baseModelNameOrPath: String? = nil
  ) {
    self.r = r
    self.loraAlpha = loraAlpha
    self.loraDropout = loraDropout
    self.useRSLoRA = useRSLoRA
    self.useDoRA = useDoRA
    self.initLoRAWeights = initLoRAWeights
    self.targetModules = targetModules
    self.excludeModules = excludeModules
    self.rankPattern = rankPattern
    self.alphaPattern = alphaPattern
    self.layersToTransform = layersToTransform
    self.layersPattern = layersPattern
    self.modulesToSave = modulesToSave
    self.taskType = taskType
    self.baseModelNameOrPath = baseModelNameOrPath
  }
}

/// How a new adapter's A and B start (PEFT's `init_lora_weights`).
public enum LoRAInitialisation: Sendable, Equatable, Codable {
  /// A Kaiming-uniform, B zero: the adapter starts as nothing, the base as it is.
  case standard
  /// PiSSA (Meng et al., 2024): A and B from the r largest singular values and vectors of
  /// W, `A = √(S/s)·Vᵀ`, `B = U·√(S/s)` (s the scaling), and the base becomes the residual
  /// `W − s·B·A`, so that training starts on W's principal components.
  case pissa
  /// `pissa_niter_N`: PEFT finds the singular vectors with N iterations of a randomized
  /// SVD, whose result depends on torch's random state; this library computes the exact
  /// decomposition, which those iterations approximate.
  case pissaIterations(Int)
  /// OLoRA (Büyükakyüz, 2024): `W = Q·R`; B = the first r columns of Q, A = the first r
  /// rows of R, and the base becomes `W − s·B·A`.
  case olora

  /// The value `adapter_config.json` holds.
  var json: JSONValue {
    switch self {
    case .standard: return .bool(true)
    case .pissa: return .string("pissa")
    case .pissaIterations(let count): return .string("pissa_niter_\(count)")
    case .olora: return .string("olora")
    }
  }
}

/// A field of `adapter_config.json` that this library cannot honour, or that has the wrong
/// type, with the file, the field and its value.
public struct AdapterConfigError: Error, Equatable, CustomStringConvertible {
  /// The file.
  public let path: String
  /// The field, as spelled in the file.
  public let field: String
  /// The field's value, as JSON.
  public let value: String
  /// Why it is refused.
  public let reason: String

  /// `FILE: field "use_dora" = true: reason`.
  public var description: String { "\(path): field \"\(field)\" = \(value): \(reason)" }
}

extension AdapterConfig {
  /// Reads `adapter_config.json`.
  /// - Throws: `AdapterFileError` when the file cannot be read or is not a JSON object;
  ///   `AdapterConfigError` naming the first field that is refused or malformed.
  public init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw AdapterFileError(
        path: url.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    let json: JSONValue
    do {
      json = try JSONValue(parsing: data)
    } catch {
      throw AdapterFileError(path: url.path, reason: "\(error)")
    }
    try self.init(json: json, path: url.path)
  }

  /// Reads a parsed `adapter_config.json`; `path` names it in errors.
  public init(json: JSONValue, path: String) throws {
    guard case .object(let fields) = json else {
      throw AdapterFileError(path: path, reason: "is not a JSON object")
    }
    var reader = ConfigReader(path: path, fields: fields)
    try self.init(reading: &reader)
    try reader.refuseUnread()
  }

  private init(reading reader: inout ConfigReader) throws {
    let peftType = try reader.string("peft_type") ?? "LORA"
    guard peftType == "LORA" else {
      throw reader.refuse("peft_type", "only LORA adapters are supported")
    }
    targetModules = try reader.selector("target_modules") ?? .names([])
    r = try reader.integer("r") ?? 8
    guard r > 0 else { throw reader.refuse("r", "the rank must be positive") }
    loraAlpha = try reader.float("lora_alpha") ?? 8
    loraDropout = try reader.float("lora_dropout") ?? 0
    guard (0..<1).contains(loraDropout) else {
      throw reader.refuse("lora_dropout", "dropout must be in [0, 1)")
    }
    useRSLoRA = try reader.bool("use_rslora") ?? false
    useDoRA = try reader.bool("use_dora") ?? false
    excludeModules = try reader.selector("exclude_modules")
    rankPattern = try reader.patterns("rank_pattern").map { key, value in
      guard let rank = value.integer, rank > 0 else {
        throw reader.refuse("rank_pattern", "the rank for \"\(key)\" must be a positive integer")
      }
      return PatternEntry(key, rank)
    }
    alphaPattern = try reader.patterns("alpha_pattern").map { key, value in
      guard case .number(let alpha) = value else {
        throw reader.refuse("alpha_pattern", "the α for \"\(key)\" must be a number")
      }
      return PatternEntry(key, Float(alpha))
    }
    layersToTransform = try reader.integers("layers_to_transform")
    layersPattern = try reader.strings("layers_pattern")
    modulesToSave = try reader.strings("modules_to_save")
    fanInFanOut = try reader.bool("fan_in_fan_out") ?? false
    taskType = try reader.string("task_type")
    baseModelNameOrPath = try reader.string("base_model_name_or_path")
    revision = try reader.string("revision")
    inferenceMode = try reader.bool("inference_mode") ?? true
    peftVersion = try reader.string("peft_version")
    reader.accept("auto_mapping")  // which class PEFT wraps: descriptive here
    reader.accept("runtime_config")  // run-time options of PEFT (GPU offload), not the adapter
    reader.accept("qalora_group_size")  // read by QALoRA only, refused below unless off
    reader.accept("megatron_core")  // read with megatron_config only, refused below unless null

    let bias = try reader.string("bias") ?? "none"
    guard bias == "none" else {
      throw reader.refuse(
        "bias", "only \"none\" is supported: this library trains and saves no biases with LoRA")
    }
    initLoRAWeights = try reader.initialisation()
    for (field, feature) in [
      ("lora_bias", "a bias on lora_B"), ("use_qalora", "QALoRA"),
      ("layer_replication", "layer replication"), ("megatron_config", "Megatron layers"),
      ("loftq_config", "LoftQ"), ("eva_config", "EVA"), ("corda_config", "CorDA"),
      ("lora_ga_config", "LoRA-GA"), ("velora_config", "VeLoRA"),
      ("monteclora_config", "MonteCLoRA"), ("kasa_config", "KaSA"), ("arrow_config", "Arrow"),
      ("trainable_token_indices", "trainable tokens"), ("target_parameters", "parameter targets"),
      ("alora_invocation_tokens", "activated LoRA"), ("use_bdlora", "BD-LoRA"),
    ] {
      try reader.requireDefault(field, "\(feature) is not supported")
    }
    if try reader.bool("ensure_weight_tying") == true, modulesToSave?.isEmpty == false {
      throw reader.refuse(
        "ensure_weight_tying", "tied copies of modules_to_save are not supported")
    }
  }
}

/// Reads the fields of an adapter config one by one, remembering which it has read, so
/// that a field nobody read is refused rather than ignored.
private struct ConfigReader {
  let path: String
  let fields: [(key: String, value: JSONValue)]
  var read = Set<String>()

  init(path: String, fields: [(key: String, value: JSONValue)]) {
    self.path = path
    self.fields = fields
  }

  func refuse(_ field: String, _ reason: String) -> AdapterConfigError {
    let value = fields.first { $0.key == field }?.value ?? .null
    return AdapterConfigError(
      path: path, field: field, value: value.serialized().replacingOccurrences(of: "\n", with: " "),
      reason: reason)
  }

  /// The field's value, or `nil` when it is absent or null.
  mutating func value(_ field: String) -> JSONValue? {
    read.insert(field)
    guard let value = fields.first(where: { $0.key == field })?.value, value != .null else {
      return nil
    }
    return value
  }

  mutating func accept(_ field: String) { read.insert(field) }

  mutating func string(_ field: String) throws -> String? {
    guard let value = value(field) else { return nil }
    guard case .string(let string) = value else { throw refuse(field, "must be a string") }
    return string
  }

  mutating func bool(_ field: String) throws -> Bool? {
    guard let value = value(field) else { return nil }
    guard case .bool(let bool) = value else { throw refuse(field, "must be true or false") }
    return bool
  }

  mutating func float(_ field: String) throws -> Float? {
    guard let value = value(field) else { return nil }
    guard case .number(let number) = value, number.isFinite else {
      throw refuse(field, "must be a number")
    }
    return Float(number)
  }

  mutating func integer(_ field: String) throws -> Int? {
    guard let value = value(field) else { return nil }
    guard let integer = value.integer else { throw refuse(field, "must be an integer") }
    return integer
  }

  /// A string or a list of strings, as a list.
  mutating func strings(_ field: String) throws -> [String]? {
    guard let value = value(field) else { return nil }
    switch value {
    case .string(let string): return [string]
    case .array(let items):
      return try items.map {
        guard case .string(let string) = $0 else { throw refuse(field, "must list strings") }
        return string
      }
    default: throw refuse(field, "must be a string or a list of strings")
    }
  }

  /// An integer or a list of integers, as a list.
  mutating func integers(_ field: String) throws -> [Int]? {
    guard let value = value(field) else { return nil }
    if let integer = value.integer { return [integer] }
    guard case .array(let items) = value else {
      throw refuse(field, "must be an integer or a list of integers")
    }
    return try items.map {
      guard let integer = $0.integer else { throw refuse(field, "must list integers") }
      return integer
    }
  }

  /// A list (names) or a string (a regular expression).
  mutating func selector(_ field: String) throws -> ModuleSelector? {
    guard let value = value(field) else { return nil }
    if case .string(let pattern) = value {
      do {
        _ = try Regex(pattern)
      } catch {
        throw refuse(field, "is not a valid regular expression (\(error))")
      }
      return .pattern(pattern)
    }
    guard let names = try strings(field) else { return nil }
    return .names(names)
  }

  /// An object of pattern keys, in file order; each key must be a valid regular expression.
  mutating func patterns(_ field: String) throws -> [(String, JSONValue)] {
    guard let value = value(field) else { return [] }
    guard case .object(let pairs) = value else { throw refuse(field, "must be an object") }
    for (key, _) in pairs {
      do {
        _ = try Regex(key)
      } catch {
        throw refuse(field, "key \"\(key)\" is not a valid regular expression")
      }
    }
    return pairs.map { ($0.key, $0.value) }
  }

  /// Refuses the field unless it is absent, null, false or empty.
  mutating func requireDefault(_ field: String, _ reason: String) throws {
    guard let value = value(field) else { return }
    switch value {
    case .bool(false), .array([]): return
    case .object(let pairs) where pairs.isEmpty: return
    default: throw refuse(field, reason)
    }
  }

  /// `init_lora_weights` decides only how new A and B start, unless it names a method that
  /// rewrites the base weights (PiSSA, OLoRA, CorDA, LoftQ) or needs data (EVA).
  mutating func initialisation() throws -> LoRAInitialisation {
    guard let value = value("init_lora_weights") else { return .standard }
    switch value {
    case .bool, .string("gaussian"), .string("orthogonal"): return .standard
    case .string("pissa"): return .pissa
    case .string("olora"): return .olora
    case .string(let text) where text.hasPrefix("pissa_niter_"):
      if let iterations = Int(text.dropFirst("pissa_niter_".count)), iterations >= 0 {
        return .pissaIterations(iterations)
      }
      throw refuse("init_lora_weights", "pissa_niter_ must end with a number of iterations")
    default:
      throw refuse(
        "init_lora_weights",
        "true, false, \"gaussian\", \"orthogonal\", \"pissa\", \"pissa_niter_N\" and "
          + "\"olora\" are supported; the others need data at initialisation")
    }
  }

  /// Refuses the first field that was not read: one this library does not know. A newer
  /// PEFT's field at an off value (null, false, empty) is accepted.
  func refuseUnread() throws {
    for (key, value) in fields where !read.contains(key) {
      switch value {
      case .null, .bool(false), .array([]): continue
      case .object(let pairs) where pairs.isEmpty: continue
      default:
        throw refuse(key, "is not a field of PEFT \(AdapterConfig.peftFormatVersion)'s LoRA config")
      }
    }
  }
}

extension JSONValue {
  /// The value as an integer, when it is a whole number.
  var integer: Int? {
    guard case .number(let number) = self, number == number.rounded(), abs(number) < 1e15 else {
      return nil
    }
    return Int(number)
  }
}
