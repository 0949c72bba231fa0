/// An n-dimensional array of `Float` with reverse-mode automatic differentiation.
///
/// Storage is contiguous and row-major. A tensor is a reference, as in PyTorch: parameters are
/// shared between the modules and optimizers that hold them, and an optimizer updates them in
/// place. Operations never alias storage they may later write, so results behave as values.
///
/// ```swift
/// let w = Tensor.randn([3, 2], requiresGrad: true)
/// let loss = (Tensor([[1, 2, 3]]).matmul(w)).sum()
/// loss.backward()
/// print(w.grad!)  // tensor([[1., 1.], [2., 2.], [3., 3.]], shape: [3, 2])
/// ```
public final class Tensor {
  /// The elements, row-major.
  public internal(set) var scalars: [Float]
  /// The size of each dimension; `[]` for a scalar.
  public let shape: [Int]

  /// Whether gradients flow to this tensor. Set it on leaves (parameters); results of
  /// operations on such tensors require gradients automatically. Setting it to `false`
  /// cuts the tensor from the graph.
  public var requiresGrad: Bool {
    get { gradNode != nil }
    set {
      if !newValue {
        gradNode = nil
      } else if gradNode == nil {
        gradNode = GradNode(leaf: self)
        // A leaf that trains is state a cached block could change: `cached` watches it.
        if !isWatched {
          isWatched = true
          LiveObjects.register(self)
        }
      }
    }
  }

  /// Whether `LiveObjects` holds this tensor already.
  private var isWatched = false

  /// The accumulated gradient of the last `backward()` calls, shaped like the tensor.
  /// Gradients add up until `zeroGrad()` or setting `grad = nil`, as in PyTorch.
  public var grad: Tensor?

  /// This tensor's place in the autograd graph; present exactly when it requires grad.
  var gradNode: GradNode?

  /// Creates a tensor from its shape and row-major elements.
  public init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) {
    _ = Tensor.allocatorIsConfigured
    for dimension in shape where dimension < 0 {
      fatalError("Tensor: negative dimension in shape \(shape)")
    }
    let count = shape.reduce(1, *)
    guard count == scalars.count else {
      fatalError("Tensor: shape \(shape) needs \(count) elements, got \(scalars.count)")
    }
    self.shape = shape
    self.scalars = scalars
    self.requiresGrad = requiresGrad
  }

  /// Makes sure the allocator is tuned before tensors start allocating (see `Allocator`).
  private static let allocatorIsConfigured = Allocator.isConfigured

  /// The number of elements.
  public var count: Int { scalars.count }
  /// The number of dimensions.
  public var rank: Int { shape.count }
  /// Whether this tensor was created directly rather than computed by a recorded operation.
  public var isLeaf: Bool { gradNode?.isLeaf ?? true }

  /// The value of a one-element tensor.
  public func item() -> Float {
    guard count == 1 else {
      fatalError("item(): the tensor has \(count) elements (shape \(shape)); item() needs one")
    }
    return scalars[0]
  }

  /// A tensor with the same values that is cut off from the graph and never requires grad.
  public func detach() -> Tensor {
    Tensor(shape: shape, scalars: scalars)
  }

  /// Overwrites this tensor's values with `other`'s, in place and outside autograd, like
  /// PyTorch's `copy_` under `no_grad`: the way to load values into a parameter.
  public func copy(from other: Tensor) {
    guard other.shape == shape else {
      fatalError("copy(from:): source shape \(other.shape) does not match \(shape)")
    }
    scalars = other.scalars
  }

  /// Resets the accumulated gradient.
  public func zeroGrad() {
    grad = nil
  }

  /// Gives `shape` with a negative `axis` counted from the end, checked against the rank.
  func normalizedAxis(_ axis: Int, for operation: String) -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0 && resolved < Swift.max(rank, 1) else {
      fatalError("\(operation): axis \(axis) is out of range for shape \(shape)")
    }
    return resolved
  }
}

/// The product of the sizes in `shape`, which is the element count of a tensor of that shape.
@inline(__always)
func elementCount<S: Sequence<Int>>(_ shape: S) -> Int {
  shape.reduce(1, *)
}
