/// One low-rank update `ΔW = scaling · B·A` of a `LoRALinear`, with its hyperparameters.
public final class LoRAAdapter {
  /// The adapter's name, `"default"` unless given.
  public let name: String
  /// The rank r.
  public let rank: Int
  /// The scaling numerator α.
  public let alpha: Float
  /// Dropout on the input of the LoRA path, during training.
  public let dropout: Float
  /// Whether scaling is α/√r (rank-stabilised LoRA) rather than α/r.
  public let useRSLoRA: Bool
  /// DoRA's magnitude vector `[out]` (PEFT's `lora_magnitude_vector`), trainable, or `nil`
  /// for plain LoRA. DoRA (Liu et al., 2024) splits the adapted weight into a direction,
  /// `W + scaling·B·A` divided by its norm per output row, and this learned length per row.
  public let magnitude: Tensor?
  /// Whether the adapter is DoRA (`use_dora`).
  public var useDoRA: Bool { magnitude != nil }
  /// How A and B started: as usual, or from the base weight's factors (PiSSA, OLoRA).
  public internal(set) var initialisation = LoRAInitialisation.standard
  /// `[r, in]`, Kaiming-uniform with a = √5, as PEFT initialises it.
  public let loraA: Tensor
  /// `[out, r]`, zeros, so a new adapter leaves the layer's output unchanged.
  public let loraB: Tensor

  /// The factor on the LoRA path: α/r, or α/√r with rsLoRA.
  public var scaling: Float {
    useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
  }

  /// A fresh adapter for a layer with `inFeatures` inputs and `outFeatures` outputs.
  ///
  /// With `baseWeight` (`[out, in]`), the adapter is DoRA's: its magnitude starts at the
  /// norm of each row of the weight (B is zero), so that it too leaves the output unchanged.
  public init(
    name: String, inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float,
    dropout: Float = 0, useRSLoRA: Bool = false, doraBaseWeight baseWeight: Tensor? = nil
  ) {
    precondition(rank > 0, "LoRA rank must be positive, got \(rank)")
    self.name = name
    self.rank = rank
    self.alpha = alpha
    self.dropout = dropout
    self.useRSLoRA = useRSLoRA
    let bound = 1 / Float(inFeatures).squareRoot()
    loraA = .uniform([rank, inFeatures], low: -bound, high: bound, requiresGrad: true)
    loraB = .zeros([outFeatures, rank], requiresGrad: true)
    magnitude = baseWeight.map { weight in
      let norm = LoRAAdapter.rowNorms(weight)
      norm.requiresGrad = true
      return norm
    }
  }

  /// ‖row‖ of each row of `matrix` `[out, in]`, outside autograd: `torch.linalg.norm(dim=1)`.
  static func rowNorms(_ matrix: Tensor) -> Tensor {
    withNoGrad { (matrix * matrix).sum(axis: 1).sqrt() }
  }

  /// `scaling · B·A`, shaped like the base weight `[out, in]`.
  public func delta() -> Tensor {
    loraB.matmul(loraA) * scaling
  }
}

/// An adapter's hyperparameters: what a saved training state records of it.
struct AdapterSpec: Codable, Equatable {
  var name: String
  var rank: Int
  var alpha: Float
  var dropout: Float
  var useRSLoRA: Bool
  var useDoRA: Bool
  var initialisation: LoRAInitialisation

  enum CodingKeys: String, CodingKey {
    case name, rank, alpha, dropout, useRSLoRA, useDoRA, initialisation
  }

  init(_ adapter: LoRAAdapter) {
    name = adapter.name
    rank = adapter.rank
    alpha = adapter.alpha
    dropout = adapter.dropout
    useRSLoRA = adapter.useRSLoRA
    useDoRA = adapter.useDoRA
    initialisation = adapter.initialisation
  }

  /// A state saved before DoRA and PiSSA existed has neither field: plain LoRA.
  init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    rank = try container.decode(Int.self, forKey: .rank)
    alpha = try container.decode(Float.self, forKey: .alpha)
    dropout = try container.decode(Float.self, forKey: .dropout)
    useRSLoRA = try container.decode(Bool.self, forKey: .useRSLoRA)
    useDoRA = try container.decodeIfPresent(Bool.self, forKey: .useDoRA) ?? false
    initialisation =
      try container.decodeIfPresent(LoRAInitialisation.self, forKey: .initialisation) ?? .standard
  }
}

/// A `Linear` whose weight and bias are frozen, plus trainable low-rank adapters:
/// `y = x·Wᵀ + b + scaling · (dropout(x)·Aᵀ)·Bᵀ`, following PEFT's `lora.Linear`.
///
/// The base layer's tensors are shared, not copied. Several adapters can live on one layer;
/// one is active at a time, and all can be disabled to get the base output back.
///
/// ```swift
/// let layer = LoRALinear(base: Linear(100, 100), rank: 4, alpha: 8)
/// layer.merge()     // W += scaling · B·A, for inference without the extra path
/// layer.unmerge()   // W back to its exact original values
/// ```
public final class LoRALinear: Linear {
  /// The adapters, in the order they were added.
  public private(set) var adapters: [LoRAAdapter] = []
  /// The name of the adapter used in the forward pass, or `nil` when none is active.
  public private(set) var activeAdapterName: String?
  /// Whether the adapters are switched off, so that the layer computes its base output.
  public private(set) var adaptersDisabled = false
  /// The base weight's exact values while an adapter is merged into it.
  private(set) var unmergedWeight: [Float]?
  /// A quantized base weight's codes from before an adapter was merged into it.
  private var unmergedQuantized: Storage?
  /// The adapter merged into the weight, if any.
  public private(set) var mergedAdapterName: String?

  /// Wraps `base`, freezing its weight and bias, with one new adapter called `adapterName`.
  public init(
    base: Linear, rank: Int, alpha: Float, dropout: Float = 0, useRSLoRA: Bool = false,
    useDoRA: Bool = false, adapterName: String = "default"
  ) {
    super.init(sharing: base)
    if case .dense(let weight) = storage { weight.requiresGrad = false }
    bias?.requiresGrad = false
    try! addAdapter(
      named: adapterName, rank: rank, alpha: alpha, dropout: dropout, useRSLoRA: useRSLoRA,
      useDoRA: useDoRA)
  }

  /// Whether an adapter is merged into the base weight.
  public var isMerged: Bool { mergedAdapterName != nil }

  /// The active adapter.
  public var activeAdapter: LoRAAdapter? {
    adapters.first { $0.name == activeAdapterName }
  }

  /// The active adapter's A, `[r, in]`.
  public var loraA: Tensor { requireActiveAdapter().loraA }
  /// The active adapter's B, `[out, r]`.
  public var loraB: Tensor { requireActiveAdapter().loraB }
  /// The active adapter's scaling.
  public var scaling: Float { requireActiveAdapter().scaling }

  private func requireActiveAdapter() -> LoRAAdapter {
    guard let adapter = activeAdapter else {
      fatalError("LoRALinear: no active adapter (adapters: \(adapters.map(\.name)))")
    }
    return adapter
  }

  /// The parameters as PEFT's `lora.Linear` names them: `base_layer.weight`,
  /// `base_layer.bias`, then each adapter's `lora_A.<adapter>.weight` and
  /// `lora_B.<adapter>.weight` (and DoRA's `lora_magnitude_vector.<adapter>.weight`). So a check such as "every parameter whose name contains
  /// `lora` trains, every other is frozen" reads as it does in PEFT.
  public override var namedOwnParameters: [(name: String, parameter: Tensor)] {
    var result: [(String, Tensor)] = []
    if case .dense(let weight) = storage { result.append(("base_layer.weight", weight)) }
    if let bias { result.append(("base_layer.bias", bias)) }
    for adapter in adapters {
      result.append(("lora_A.\(adapter.name).weight", adapter.loraA))
      result.append(("lora_B.\(adapter.name).weight", adapter.loraB))
      if let magnitude = adapter.magnitude {
        result.append(("lora_magnitude_vector.\(adapter.name).weight", magnitude))
      }
    }
    return result
  }

  /// Adds a new adapter (DoRA's, with `useDoRA`) and makes it the active one.
  public func addAdapter(
    named name: String, rank: Int, alpha: Float, dropout: Float = 0, useRSLoRA: Bool = false,
    useDoRA: Bool = false
  ) throws {
    guard !adapters.contains(where: { $0.name == name }) else {
      throw ModuleError.duplicateAdapter(name)
    }
    unmerge()
    adapters.append(
      LoRAAdapter(
        name: name, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, alpha: alpha,
        dropout: dropout, useRSLoRA: useRSLoRA, doraBaseWeight: useDoRA ? weightOutIn : nil))
    try activateAdapter(name)
  }

  /// The base weight as floats `[out, in]`, whatever its layout or storage.
  var weightOutIn: Tensor { withNoGrad { layout == .outIn ? weight : weight.mT } }

  /// Starts the adapter `name` from the base weight's factors and moves them out of the
  /// base, as PEFT's `pissa_init` and `olora_init` do: afterwards `W' + scaling·B·A` is the
  /// old W, so the layer's output is unchanged (to rounding). A DoRA magnitude is measured
  /// again on the new base, as PEFT initialises DoRA after these.
  func initialiseFromBase(adapter name: String, _ method: LoRAInitialisation) throws {
    guard method != .standard else { return }
    guard let adapter = adapters.first(where: { $0.name == name }) else {
      throw ModuleError.noSuchAdapter(name, available: adapters.map(\.name))
    }
    guard case .dense(let stored) = storage else {
      throw FactorizationError(
        description: "PiSSA and OLoRA rewrite the base weight, which is quantized here; call "
          + "dequantize() first, then quantize the residual model again")
    }
    let weight = weightOutIn  // [out, in]
    let rank = adapter.rank
    guard rank <= min(weight.shape[0], weight.shape[1]) else {
      throw FactorizationError(
        description: "rank \(rank) is more than the \(min(weight.shape[0], weight.shape[1])) "
          + "factors a \(weight.shape) weight has")
    }
    let (a, b): (Tensor, Tensor)
    switch method {
    case .standard: return
    case .pissa, .pissaIterations:
      let (u, s, vh) = try weight.singularValueDecomposition()
      // √(S_r / scaling) on A's rows and on B's columns.
      let roots = s.scalars.prefix(rank).map { ($0 / adapter.scaling).squareRoot() }
      a = Tensor(
        shape: [rank, weight.shape[1]],
        scalars: (0..<rank).flatMap { row in
          vh.scalars[(row * weight.shape[1])..<((row + 1) * weight.shape[1])].map {
            $0 * roots[row]
          }
        })
      b = Tensor(
        shape: [weight.shape[0], rank],
        scalars: (0..<weight.shape[0]).flatMap { row in
          (0..<rank).map { u.scalars[row * u.shape[1] + $0] * roots[$0] }
        })
    case .olora:
      guard layout == .outIn else {
        throw FactorizationError(
          description: "OLoRA on a Conv1D: PEFT factors its [in, out] weight as it is stored, "
            + "which gives A and B the wrong shapes; use PiSSA, or a Linear layer")
      }
      let (q, r) = try weight.qrDecomposition()
      a = Tensor(shape: [rank, r.shape[1]], scalars: Array(r.scalars.prefix(rank * r.shape[1])))
      b = Tensor(
        shape: [q.shape[0], rank],
        scalars: (0..<q.shape[0]).flatMap { row in
          q.scalars[(row * q.shape[1])..<(row * q.shape[1] + rank)]
        })
    }
    unmerge()
    adapter.loraA.scalars = a.scalars
    adapter.loraB.scalars = b.scalars
    let residual = withNoGrad { weight - b.matmul(a) * adapter.scaling }
    stored.scalars = layout == .outIn ? residual.scalars : residual.mT.scalars
    adapter.initialisation = method
    if let magnitude = adapter.magnitude {
      magnitude.scalars = doraWeightNorm(adapter).scalars
    }
  }

  /// DoRA's weight norm: ‖W + scaling·B·A‖ of each output row, detached, as PEFT's
  /// `get_weight_norm` computes it (its gradient does not flow, as in the paper's §4.3).
  func doraWeightNorm(_ adapter: LoRAAdapter) -> Tensor {
    withNoGrad { LoRAAdapter.rowNorms(weightOutIn + adapter.delta()) }
  }

  /// Makes `name` the adapter used in the forward pass; unmerges any other first.
  /// (`Module.setActiveAdapter(_:)` does this for every layer of a model.)
  func activateAdapter(_ name: String) throws {
    guard adapters.contains(where: { $0.name == name }) else {
      throw ModuleError.noSuchAdapter(name, available: adapters.map(\.name))
    }
    if mergedAdapterName != name { unmerge() }
    activeAdapterName = name
    adaptersDisabled = false
  }

  /// Leaves no adapter active (unmerging any), so the layer computes its base output; what
  /// a layer without the model's active adapter does, as in PEFT.
  func deactivateAdapters() {
    unmerge()
    activeAdapterName = nil
  }

  /// Removes the adapter `name`; if it was active, no adapter is active afterwards.
  func removeAdapter(_ name: String) throws {
    guard adapters.contains(where: { $0.name == name }) else {
      throw ModuleError.noSuchAdapter(name, available: adapters.map(\.name))
    }
    if mergedAdapterName == name { unmerge() }
    adapters.removeAll { $0.name == name }
    if activeAdapterName == name { activeAdapterName = nil }
  }

  /// Gives the layer exactly `specs` as its adapters, in order, with the given active,
  /// disabled and merged state: what restoring a saved state does. An adapter that the layer
  /// already has with the same hyperparameters keeps its tensors (their values are restored
  /// afterwards); any other is created afresh.
  func restoreAdapters(
    _ specs: [AdapterSpec], active: String?, disabled: Bool, merged: String?,
    unmergedWeight: [Float]?
  ) {
    adapters = specs.map { spec in
      if let existing = adapters.first(where: { AdapterSpec($0) == spec }) {
        return existing
      }
      let adapter = LoRAAdapter(
        name: spec.name, inFeatures: inFeatures, outFeatures: outFeatures, rank: spec.rank,
        alpha: spec.alpha, dropout: spec.dropout, useRSLoRA: spec.useRSLoRA,
        doraBaseWeight: spec.useDoRA ? weightOutIn : nil)
      adapter.initialisation = spec.initialisation
      return adapter
    }
    activeAdapterName = active
    adaptersDisabled = disabled
    mergedAdapterName = merged
    self.unmergedWeight = merged == nil ? nil : unmergedWeight
  }

  /// Switches the adapters off (`true`) or on again (`false`); a merged adapter is unmerged.
  func setAdaptersDisabled(_ disabled: Bool) {
    if disabled { unmerge() }
    adaptersDisabled = disabled
  }

  /// Adds the active adapter's `scaling · B·A` into the base weight, so the forward pass
  /// needs no LoRA path. Merging twice changes nothing.
  ///
  /// A 4-bit or 8-bit base cannot hold the sum exactly: as PEFT does, the weight is dequantized, the
  /// update added, and the result quantized again, with a warning, since the merged layer's
  /// outputs then differ from base + adapter by the new rounding. `unmerge()` restores the
  /// original codes exactly. For an exact merge, `dequantize()` the model first.
  public func merge() {
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return }
    // ΔW is [out, in]; a Conv1D stores its weight [in, out] (PEFT's fan_in_fan_out).
    let delta = withNoGrad {
      var update = adapter.delta()  // [out, in]
      if let magnitude = adapter.magnitude {
        // DoRA: W' = (m / ‖W + ΔW‖) · (W + ΔW) row by row, as ΔW' = W' − W.
        let weight = weightOutIn
        let adapted = weight + update
        let factor = magnitude.detach() / LoRAAdapter.rowNorms(adapted)
        update = adapted * factor.reshaped([factor.count, 1]) - weight
      }
      return layout == .outIn ? update : update.mT
    }
    switch storage {
    case .dense(let weight):
      unmergedWeight = weight.scalars
      weight.scalars.withUnsafeMutableBufferPointer { w in
        delta.scalars.withUnsafeBufferPointer { d in
          for i in w.indices { w[i] += d[i] }
        }
      }
    case .fourBit(let weight):
      warnOfRequantizing(adapter, bits: 4)
      unmergedQuantized = storage
      storage = .fourBit(
        FourBitWeight(
          quantizing: weight.dequantized() + delta, as: weight.type, blockSize: weight.blockSize,
          doubleQuantization: weight.isDoubleQuantized))
    case .eightBit(let weight):
      warnOfRequantizing(adapter, bits: 8)
      unmergedQuantized = storage
      storage = .eightBit(EightBitWeight(quantizing: weight.dequantized() + delta))
    }
    mergedAdapterName = adapter.name
  }

  /// PEFT's warning on merging into a quantized base, and what to do instead.
  private func warnOfRequantizing(_ adapter: LoRAAdapter, bits: Int) {
    warn(
      "merging adapter '\(adapter.name)' into a \(bits)-bit base quantizes the sum again, so "
        + "the merged layer differs from base + adapter by that rounding; call dequantize() on "
        + "the model first for an exact merge")
  }

  /// Restores the base weight to its exact values from before `merge()`. Unmerging an
  /// unmerged layer changes nothing.
  public func unmerge() {
    if let original = unmergedQuantized {
      storage = original
      unmergedQuantized = nil
    } else if let original = unmergedWeight {
      weight.scalars = original
      unmergedWeight = nil
    } else {
      return
    }
    mergedAdapterName = nil
  }

  /// The base layer's output plus the active adapter's low-rank path, unless it is merged
  /// or adapters are disabled.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    let base = super.callAsFunction(x)
    if let adapter = activeAdapter, adapter.useDoRA, !isMerged, !adaptersDisabled {
      return base + doraPath(x, base: base, adapter: adapter)
    }
    return adapterPath(x).map { base + $0 } ?? base
  }

  /// What DoRA adds to the base output, as PEFT's `DoraLinearLayer.forward`:
  /// `(s − 1)·W·x' + s·scaling·B·A·x'` with `s = m / ‖W + scaling·B·A‖` per output row, where
  /// `x'` is the input after the adapter's dropout. Without dropout (or in evaluation) `W·x`
  /// is the base output less its bias, as PEFT reuses it.
  private func doraPath(_ x: Tensor, base: Tensor, adapter: LoRAAdapter) -> Tensor {
    let input = x.dropout(adapter.dropout, training: isTraining)
    let dropsOut = adapter.dropout != 0 && isTraining
    let product = dropsOut ? baseProduct(input) : bias.map { base - $0 } ?? base
    let scale = adapter.magnitude! / doraWeightNorm(adapter)  // [out]; gradient to m
    let lora = (input.linear(weight: adapter.loraA) * adapter.scaling).linear(weight: adapter.loraB)
    return (scale - 1) * product + scale * lora
  }

  /// The active adapter's path, for `Linear.fused`: low-rank, so that layers share their
  /// down-projection, unless it drops inputs out (each layer draws its own mask, in order,
  /// so those layers keep their own paths); nothing when merged or disabled.
  override var addedToProduct: AddedPath? {
    guard !isQuantized else { return nil }
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return .nothing }
    // DoRA rescales the base product itself: its layer keeps its own forward.
    guard !adapter.useDoRA else { return nil }
    guard adapter.dropout == 0 || !isTraining else { return .other(adapterPath) }
    return .lowRank(LowRankPath(down: adapter.loraA, up: adapter.loraB, scaling: adapter.scaling))
  }

  /// The active adapter's contribution alone, `scaling · (dropout(x)·Aᵀ)·Bᵀ` (DoRA's, for a
  /// DoRA adapter), or `nil` when an adapter is merged, adapters are disabled, or none is
  /// active.
  public func adapterPath(_ x: Tensor) -> Tensor? {
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return nil }
    if adapter.useDoRA { return doraPath(x, base: super.callAsFunction(x), adapter: adapter) }
    let input = x.dropout(adapter.dropout, training: isTraining)
    // linear(weight:) multiplies by the transpose, so A [r, in] and B [out, r] are used as
    // they are stored. Scaling the narrow [..., r] middle rather than the [..., out] result
    // is the same product with less work and memory.
    let down = input.linear(weight: adapter.loraA) * adapter.scaling  // [..., r]
    return down.linear(weight: adapter.loraB)  // [..., out]
  }
}
