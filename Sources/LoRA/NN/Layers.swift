/// A fully connected layer, `y = x·Wᵀ + b`, like `torch.nn.Linear`.
///
/// Initialised as PyTorch does: the weight Kaiming-uniform with a = √5, which is
/// U(±1/√inFeatures), and the bias U(±1/√inFeatures).
///
/// ```swift
/// let layer = Linear(100, 100, bias: false)
/// let y = layer(Tensor.randn([10, 100]))  // [10, 100]
/// ```
open class Linear: Module {
  /// How `weight` is laid out: `[out, in]` as in PyTorch, or `[in, out]` as in Hugging
  /// Face's `Conv1D` (GPT-2), which PEFT calls `fan_in_fan_out`.
  public enum WeightLayout: Sendable, Equatable {
    /// `[outFeatures, inFeatures]`, `y = x·Wᵀ + b`: `torch.nn.Linear`.
    case outIn
    /// `[inFeatures, outFeatures]`, `y = x·W + b`: transformers' `Conv1D`.
    case inOut
  }

  /// How the layer holds its weight: as a float tensor, or packed in 4 or 8 bits.
  enum Storage {
    case dense(Tensor)
    case fourBit(FourBitWeight)
    case eightBit(EightBitWeight)
  }

  /// The weight as the layer holds it. A 4-bit weight changes only when an adapter is
  /// merged into it (and back).
  var storage: Storage

  /// `[outFeatures, inFeatures]`, or `[inFeatures, outFeatures]` for the `.inOut` layout.
  ///
  /// For a quantized layer (`isQuantized`), a float copy dequantized on each read, which is
  /// never trained: the layer itself keeps its weight packed.
  public var weight: Tensor {
    switch storage {
    case .dense(let weight): return weight
    case .fourBit(let weight): return weight.dequantized()
    case .eightBit(let weight): return weight.dequantized()
    }
  }

  /// The packed weight of a 4-bit layer, `[out, in]`; `nil` for any other.
  public var quantizedWeight: FourBitWeight? {
    if case .fourBit(let weight) = storage { return weight }
    return nil
  }

  /// The codes of an 8-bit layer, `[out, in]`; `nil` for any other.
  public var eightBitWeight: EightBitWeight? {
    if case .eightBit(let weight) = storage { return weight }
    return nil
  }

  /// Whether the weight is stored in 4 or 8 bits: frozen, and read a block at a time.
  public var isQuantized: Bool {
    if case .dense = storage { return false }
    return true
  }

  /// `[outFeatures]`, or `nil` for a layer without bias.
  public let bias: Tensor?
  /// How `weight` is laid out.
  public let layout: WeightLayout

  /// - Parameters:
  ///   - inFeatures: the size of each input sample.
  ///   - outFeatures: the size of each output sample.
  ///   - bias: whether to learn an additive bias.
  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
    let bound = 1 / Float(inFeatures).squareRoot()
    storage = .dense(
      .uniform([outFeatures, inFeatures], low: -bound, high: bound, requiresGrad: true))
    self.bias = bias ? .uniform([outFeatures], low: -bound, high: bound, requiresGrad: true) : nil
    layout = .outIn
  }

  /// Wraps existing tensors: `weight` laid out as `layout` says and an optional `bias`
  /// `[out]`.
  public init(weight: Tensor, bias: Tensor? = nil, layout: WeightLayout = .outIn) {
    storage = .dense(weight)
    self.bias = bias
    self.layout = layout
  }

  /// A 4-bit layer, as bitsandbytes' `Linear4bit`: the weight stays packed, and the
  /// products dequantize it a block of rows at a time. Its weight never trains; its bias may.
  public init(quantized weight: FourBitWeight, bias: Tensor? = nil) {
    storage = .fourBit(weight)
    self.bias = bias
    layout = .outIn
  }

  /// An 8-bit layer, as bitsandbytes' `Linear8bitLt`: the weight stays in 8 bits, and the
  /// products dequantize it a block of rows at a time. Its weight never trains; its bias may.
  public init(eightBit weight: EightBitWeight, bias: Tensor? = nil) {
    storage = .eightBit(weight)
    self.bias = bias
    layout = .outIn
  }

  /// A layer holding `storage`, laid out `[out, in]` (a quantized one) or as a dense one is.
  init(storage: Storage, bias: Tensor?) {
    self.storage = storage
    self.bias = bias
    layout = .outIn
  }

  /// A layer that shares `base`'s weight and bias (what a wrapper such as `LoRALinear` holds).
  init(sharing base: Linear) {
    storage = base.storage
    bias = base.bias
    layout = base.layout
  }

  /// The size of each input sample.
  public var inFeatures: Int { layout == .outIn ? weightShape[1] : weightShape[0] }
  /// The size of each output sample.
  public var outFeatures: Int { layout == .outIn ? weightShape[0] : weightShape[1] }

  private var weightShape: [Int] {
    switch storage {
    case .dense(let weight): return weight.shape
    case .fourBit(let weight): return weight.shape
    case .eightBit(let weight): return weight.shape
    }
  }

  /// `weight` and `bias`, the names PyTorch gives them; a quantized weight is not a parameter
  /// (it never trains), so only the bias is listed for a 4-bit layer.
  open override var namedOwnParameters: [(name: String, parameter: Tensor)] {
    var result: [(String, Tensor)] = []
    if case .dense(let weight) = storage { result.append(("weight", weight)) }
    if let bias { result.append(("bias", bias)) }
    return result
  }

  /// `x·Wᵀ` (or `x·W`) without the bias.
  func baseProduct(_ x: Tensor) -> Tensor {
    switch (storage, layout) {
    case (.fourBit(let weight), _): return x.linear(quantized: weight)
    case (.eightBit(let weight), _): return x.linear(quantized: weight)
    case (.dense(let weight), .outIn): return x.linear(weight: weight)
    case (.dense(let weight), .inOut): return x.matmul(weight)
    }
  }

  /// `x·Wᵀ + b` (or `x·W + b` for the `.inOut` layout) over the last dimension of `x`.
  open override func callAsFunction(_ x: Tensor) -> Tensor {
    switch (storage, layout) {
    case (.fourBit(let weight), _): return x.linear(quantized: weight, bias: bias)
    case (.eightBit(let weight), _): return x.linear(quantized: weight, bias: bias)
    case (.dense(let weight), .outIn): return x.linear(weight: weight, bias: bias)
    case (.dense(let weight), .inOut):
      let product = x.matmul(weight)
      return bias.map { product + $0 } ?? product
    }
  }

  /// What the layer adds to its weight's product, for `Linear.fused` to compute several
  /// layers that read one input with one product: `.nothing` for a plain layer, a LoRA
  /// layer's low-rank path. `nil` for a subclass that fusion does not know (its forward is
  /// its own), which is then never fused.
  var addedToProduct: AddedPath? {
    guard !isQuantized else { return nil }
    return type(of: self) == Linear.self || type(of: self) == Conv1D.self ? .nothing : nil
  }
}

/// Hugging Face's `Conv1D`, GPT-2's projection layer: a fully connected layer whose weight
/// is stored `[in, out]`, `y = x·W + b`, initialised N(0, 0.02) with a zero bias as
/// transformers does. LoRA wraps it as PEFT does with `fan_in_fan_out=True`.
public final class Conv1D: Linear {
  /// `Conv1D(nf, nx)` as transformers writes it: `nf` outputs, `nx` inputs.
  public init(nf: Int, nx: Int) {
    super.init(
      weight: Tensor.randn([nx, nf], requiresGrad: true) * 0.02, bias: .zeros([nf]),
      layout: .inOut)
    weight.requiresGrad = true
    bias?.requiresGrad = true
  }
}

/// A lookup table of learned vectors, like `torch.nn.Embedding`, initialised N(0, 1).
public final class Embedding: Module {
  /// `[count, dimensions]`.
  public let weight: Tensor

  /// A table of `count` vectors of `dimensions` elements.
  public init(_ count: Int, _ dimensions: Int) {
    weight = .randn([count, dimensions], requiresGrad: true)
  }

  /// The vectors of `indices`, shaped `[indices.count, dimensions]`.
  public func callAsFunction(_ indices: [Int]) -> Tensor {
    weight.indexSelect(indices)
  }

  /// The vectors of a batch of index sequences, shaped `[batch, length, dimensions]`.
  public func callAsFunction(_ indices: [[Int]]) -> Tensor {
    let length = indices.first?.count ?? 0
    guard indices.allSatisfy({ $0.count == length }) else {
      fatalError("Embedding: every sequence in a batch must have the same length")
    }
    return weight.indexSelect(indices.flatMap { $0 }).reshaped([
      indices.count, length, weight.shape[1],
    ])
  }
}

/// Layer normalisation over the last dimension, like `torch.nn.LayerNorm`.
public final class LayerNorm: Module {
  /// The per-feature scale, initialised to 1.
  public let weight: Tensor
  /// The per-feature shift, initialised to 0.
  public let bias: Tensor
  /// Added to the variance for numerical stability.
  public let eps: Float

  /// Normalises vectors of `features` elements.
  public init(_ features: Int, eps: Float = 1e-5) {
    weight = .ones([features], requiresGrad: true)
    bias = .zeros([features], requiresGrad: true)
    self.eps = eps
  }

  /// The normalised input.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    x.layerNorm(weight: weight, bias: bias, eps: eps)
  }
}

/// Zeroes elements with probability `p` in training mode, like `torch.nn.Dropout`.
public final class Dropout: Module {
  /// The probability of zeroing an element.
  public let p: Float

  /// A dropout layer with probability `p`.
  public init(_ p: Float = 0.5) {
    self.p = p
  }

  /// The input with dropout applied in training mode, unchanged in evaluation mode.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    x.dropout(p, training: isTraining)
  }
}

/// The rectified linear unit as a layer, for use in `Sequential`.
public final class ReLU: Module {
  /// A ReLU layer.
  public override init() {}
  /// max(x, 0).
  public override func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

/// The exact GELU as a layer, for use in `Sequential`.
public final class GELU: Module {
  /// A GELU layer.
  public override init() {}
  /// x·Φ(x).
  public override func callAsFunction(_ x: Tensor) -> Tensor { x.gelu() }
}

/// Modules applied one after another, like `torch.nn.Sequential`; named `0`, `1`, ….
public final class Sequential: Module {
  /// The modules, in order.
  public private(set) var layers: [Module]

  /// Chains `layers`.
  public init(_ layers: [Module]) {
    self.layers = layers
  }

  /// The layers, named by position as in PyTorch (`net.0.weight`, not `net.layers.0.weight`).
  public override var namedChildren: [(name: String, module: Module)] {
    layers.enumerated().map { ("\($0.offset)", $0.element) }
  }

  /// Replaces the layer at position `name` (`"0"`, `"1"`, …) with any module.
  public override func replaceChild(named name: String, with replacement: Module) throws {
    guard let index = Int(name), layers.indices.contains(index) else {
      throw ModuleError.noSuchChild(name, in: "Sequential")
    }
    layers[index] = replacement
  }

  /// The input passed through every layer in turn.
  public override func callAsFunction(_ x: Tensor) -> Tensor {
    layers.reduce(x) { $1($0) }
  }
}
