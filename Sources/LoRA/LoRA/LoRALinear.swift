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
  /// `[r, in]`, Kaiming-uniform with a = √5, as PEFT initialises it.
  public let loraA: Tensor
  /// `[out, r]`, zeros, so a new adapter leaves the layer's output unchanged.
  public let loraB: Tensor

  /// The factor on the LoRA path: α/r, or α/√r with rsLoRA.
  public var scaling: Float {
    useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
  }

  /// A fresh adapter for a layer with `inFeatures` inputs and `outFeatures` outputs.
  public init(
    name: String, inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float,
    dropout: Float = 0, useRSLoRA: Bool = false
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
  }

  /// `scaling · B·A`, shaped like the base weight `[out, in]`.
  public func delta() -> Tensor {
    loraB.matmul(loraA) * scaling
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
  /// The adapter merged into the weight, if any.
  public private(set) var mergedAdapterName: String?

  /// Wraps `base`, freezing its weight and bias, with one new adapter called `adapterName`.
  public init(
    base: Linear, rank: Int, alpha: Float, dropout: Float = 0, useRSLoRA: Bool = false,
    adapterName: String = "default"
  ) {
    super.init(weight: base.weight, bias: base.bias, layout: base.layout)
    weight.requiresGrad = false
    bias?.requiresGrad = false
    try! addAdapter(
      named: adapterName, rank: rank, alpha: alpha, dropout: dropout, useRSLoRA: useRSLoRA)
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
  /// `lora_B.<adapter>.weight`. So a check such as "every parameter whose name contains
  /// `lora` trains, every other is frozen" reads as it does in PEFT.
  public override var namedOwnParameters: [(name: String, parameter: Tensor)] {
    var result: [(String, Tensor)] = [("base_layer.weight", weight)]
    if let bias { result.append(("base_layer.bias", bias)) }
    for adapter in adapters {
      result.append(("lora_A.\(adapter.name).weight", adapter.loraA))
      result.append(("lora_B.\(adapter.name).weight", adapter.loraB))
    }
    return result
  }

  /// Adds a new adapter and makes it the active one.
  public func addAdapter(
    named name: String, rank: Int, alpha: Float, dropout: Float = 0, useRSLoRA: Bool = false
  ) throws {
    guard !adapters.contains(where: { $0.name == name }) else {
      throw ModuleError.duplicateAdapter(name)
    }
    adapters.append(
      LoRAAdapter(
        name: name, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, alpha: alpha,
        dropout: dropout, useRSLoRA: useRSLoRA))
    try activateAdapter(name)
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
    _ specs: [(name: String, rank: Int, alpha: Float, dropout: Float, useRSLoRA: Bool)],
    active: String?, disabled: Bool, merged: String?, unmergedWeight: [Float]?
  ) {
    adapters = specs.map { spec in
      if let existing = adapters.first(where: {
        $0.name == spec.name && $0.rank == spec.rank && $0.alpha == spec.alpha
          && $0.dropout == spec.dropout && $0.useRSLoRA == spec.useRSLoRA
      }) {
        return existing
      }
      return LoRAAdapter(
        name: spec.name, inFeatures: inFeatures, outFeatures: outFeatures, rank: spec.rank,
        alpha: spec.alpha, dropout: spec.dropout, useRSLoRA: spec.useRSLoRA)
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
  public func merge() {
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return }
    // ΔW is [out, in]; a Conv1D stores its weight [in, out] (PEFT's fan_in_fan_out).
    let delta = withNoGrad { layout == .outIn ? adapter.delta() : adapter.delta().mT }
    unmergedWeight = weight.scalars
    weight.scalars.withUnsafeMutableBufferPointer { w in
      delta.scalars.withUnsafeBufferPointer { d in
        for i in w.indices { w[i] += d[i] }
      }
    }
    mergedAdapterName = adapter.name
  }

  /// Restores the base weight to its exact values from before `merge()`. Unmerging an
  /// unmerged layer changes nothing.
  public func unmerge() {
    guard let original = unmergedWeight else { return }
    weight.scalars = original
    unmergedWeight = nil
    mergedAdapterName = nil
  }

  /// The base layer's output plus the active adapter's low-rank path, unless it is merged
  /// or adapters are disabled.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    let base = super.callAsFunction(x)
    return adapterPath(x).map { base + $0 } ?? base
  }

  /// The active adapter's path, for `Linear.fused`: low-rank, so that layers share their
  /// down-projection, unless it drops inputs out (each layer draws its own mask, in order,
  /// so those layers keep their own paths); nothing when merged or disabled.
  override var addedToProduct: AddedPath? {
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return .nothing }
    guard adapter.dropout == 0 || !isTraining else { return .other(adapterPath) }
    return .lowRank(LowRankPath(down: adapter.loraA, up: adapter.loraB, scaling: adapter.scaling))
  }

  /// The active adapter's contribution alone, `scaling · (dropout(x)·Aᵀ)·Bᵀ`, or `nil` when
  /// an adapter is merged, adapters are disabled, or none is active.
  public func adapterPath(_ x: Tensor) -> Tensor? {
    guard !isMerged, !adaptersDisabled, let adapter = activeAdapter else { return nil }
    let input = x.dropout(adapter.dropout, training: isTraining)
    // linear(weight:) multiplies by the transpose, so A [r, in] and B [out, r] are used as
    // they are stored. Scaling the narrow [..., r] middle rather than the [..., out] result
    // is the same product with less work and memory.
    let down = input.linear(weight: adapter.loraA) * adapter.scaling  // [..., r]
    return down.linear(weight: adapter.loraB)  // [..., out]
  }
}
