/// Whether operations record a graph for `backward()`; off inside `withNoGrad`.
///
/// A task-local value, so that concurrent tasks (tests running in parallel, say) each have
/// their own mode.
enum GradMode {
  @TaskLocal static var isEnabled = true
  /// Whether the `backward()` running now keeps the graph for another pass: a backward
  /// function may then not consume what it saved.
  @TaskLocal static var isRetainingGraph = false
}

/// Runs `body` without recording operations for autograd, like `torch.no_grad()`.
///
/// Use it for evaluation, generation and hand-written parameter updates.
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
  try GradMode.$isEnabled.withValue(false, operation: body)
}

/// A tensor's place in the autograd graph.
///
/// Nodes point to the nodes of their inputs, never to tensors, so the graph by itself keeps
/// no activations alive: an operation's backward function holds exactly the values it needs
/// (PyTorch's "saved tensors"), and everything else is freed as soon as the forward pass
/// drops it.
final class GradNode {
  /// Whether this node stands for a tensor created directly (a parameter).
  let isLeaf: Bool
  /// The leaf tensor whose `grad` receives gradients. Weak, so the graph does not keep it.
  private weak var leaf: Tensor?
  /// The shape of the tensor, which every gradient must have.
  let shape: [Int]
  /// The operation that made the tensor, for error messages.
  let operation: String
  /// The nodes of the inputs that require grad.
  private(set) var parents: [GradNode]
  /// Adds the tensor's gradient (the argument) into its inputs' nodes.
  private(set) var backwardFunction: ((Tensor) -> Void)?
  /// The gradient gathered so far during `backward()`, for results of operations.
  private var gradient: Tensor?
  /// Set once `backward()` has used and freed the graph behind this node.
  private(set) var graphWasFreed = false

  /// The node of a leaf tensor.
  init(leaf: Tensor) {
    isLeaf = true
    self.leaf = leaf
    shape = leaf.shape
    operation = "leaf"
    parents = []
  }

  /// The node of an operation's result.
  init(operation: String, shape: [Int], parents: [GradNode], backward: @escaping (Tensor) -> Void) {
    isLeaf = false
    self.shape = shape
    self.operation = operation
    self.parents = parents
    backwardFunction = backward
  }

  /// Adds `gradient` into this node's gradient.
  func accumulate(_ gradient: Tensor) {
    guard gradient.shape == shape else {
      fatalError(
        "backward of \(operation): gradient shape \(gradient.shape) does not match tensor shape \(shape)"
      )
    }
    // The first gradient is kept as it is (its storage shared, copied only if added to
    // later): no zeroed buffer, no pass to add it into one.
    if isLeaf {
      guard let leaf else { return }
      if leaf.grad == nil {
        leaf.grad = Tensor(shape: shape, scalars: gradient.scalars)
        return
      }
    } else if self.gradient == nil {
      self.gradient = Tensor(shape: shape, scalars: gradient.scalars)
      return
    }
    accumulate { sum in
      gradient.scalars.withUnsafeBufferPointer { addend in
        addAssign(sum.baseAddress!, addend.baseAddress!, count: sum.count)
      }
    }
  }

  /// Whether a gradient has reached this node yet in this `backward()` (for a leaf: whether
  /// it holds one).
  var holdsGradient: Bool { isLeaf ? leaf?.grad != nil : gradient != nil }

  /// Lets `body` write into the gradient buffer: `fresh` is true when the buffer has just
  /// been made and holds nothing yet (its contents are undefined, and `body` must write
  /// every element), false when it holds earlier gradients to add to. A matrix product
  /// then runs with `beta` 0 or 1: a first gradient costs neither zeroing the buffer nor
  /// BLAS's pass to scale it.
  func accumulateOrWrite(_ body: (UnsafeMutableBufferPointer<Float>, _ fresh: Bool) -> Void) {
    let count = elementCount(shape)
    if isLeaf {
      guard let leaf else { return }
      if leaf.grad == nil {
        leaf.grad = Tensor(shape: shape, scalars: makeScalars(count: count) { body($0, true) })
        return
      }
      leaf.grad!.scalars.withUnsafeMutableBufferPointer { body($0, false) }
    } else {
      if gradient == nil {
        gradient = Tensor(shape: shape, scalars: makeScalars(count: count) { body($0, true) })
        return
      }
      gradient!.scalars.withUnsafeMutableBufferPointer { body($0, false) }
    }
  }

  /// Lets `body` add directly into the gradient buffer, created as zeros if needed. Kernels
  /// such as matrix products accumulate in place this way, without a temporary.
  func accumulate(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
    if isLeaf {
      guard let leaf else { return }  // nobody can read this gradient any more
      if leaf.grad == nil { leaf.grad = .zeros(shape) }
      leaf.grad!.scalars.withUnsafeMutableBufferPointer { body($0) }
    } else {
      if gradient == nil { gradient = .zeros(shape) }
      gradient!.scalars.withUnsafeMutableBufferPointer { body($0) }
    }
  }

  /// Adds `gradient`, shaped like a broadcast result, summing over the dimensions along
  /// which this node's tensor was broadcast.
  func accumulateBroadcast(_ gradient: Tensor) {
    if gradient.shape == shape {
      accumulate(gradient)
      return
    }
    let layout = BroadcastLayout(output: gradient.shape, a: shape)
    gradient.scalars.withUnsafeBufferPointer { source in
      accumulate { target in LoRA.accumulateBroadcast(source, layout: layout, into: target) }
    }
  }

  /// Runs backward from this node, seeded with `seed`.
  func backpropagate(seed: Tensor, retainGraph: Bool) {
    let order = topologicalOrder()
    accumulate(seed)
    GradMode.$isRetainingGraph.withValue(retainGraph) {
      withNoGrad {
        for node in order.reversed() {
          if let function = node.backwardFunction, let gradient = node.gradient {
            function(gradient)
          }
          // Intermediate gradients are not needed again, nor, unless retained, is the graph
          // with the values its functions hold: freeing them as we go keeps the peak memory
          // of a training step low.
          node.gradient = nil
          if !retainGraph && !node.isLeaf {
            node.backwardFunction = nil
            node.parents = []
            node.graphWasFreed = true
          }
        }
      }
    }
  }

  /// Every node this one depends on, inputs before outputs.
  private func topologicalOrder() -> [GradNode] {
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    // An explicit stack rather than recursion, so deep graphs cannot overflow the call stack.
    var stack: [(node: GradNode, parentsPushed: Bool)] = [(self, false)]
    while let (node, parentsPushed) = stack.popLast() {
      if parentsPushed {
        order.append(node)
        continue
      }
      guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
      stack.append((node, true))
      for parent in node.parents where !visited.contains(ObjectIdentifier(parent)) {
        stack.append((parent, false))
      }
    }
    return order
  }
}

extension Tensor {
  /// Wraps an operation's result and, when any input needs gradients, records how to send
  /// the result's gradient back.
  ///
  /// `backward` receives the result's gradient and adds into the nodes of the inputs that
  /// require grad, which the operation captures beforehand (`input.gradNode`). It should
  /// capture input tensors only when it needs their values, so that the rest can be freed.
  /// It runs with recording switched off.
  static func result(
    of operation: String, _ value: Tensor, inputs: [Tensor],
    backward: @escaping (_ gradient: Tensor) -> Void
  ) -> Tensor {
    let parents = inputs.compactMap(\.gradNode)
    if GradMode.isEnabled && !parents.isEmpty {
      value.gradNode = GradNode(
        operation: operation, shape: value.shape, parents: parents, backward: backward)
    }
    return value
  }

  /// `result(of:_:inputs:backward:)` for a result given as its shape and elements.
  static func result(
    of operation: String, shape: [Int], scalars: [Float], inputs: [Tensor],
    backward: @escaping (_ gradient: Tensor) -> Void
  ) -> Tensor {
    result(
      of: operation, Tensor(shape: shape, scalars: scalars), inputs: inputs, backward: backward)
  }

  /// Computes the gradient of this tensor with respect to every leaf that requires grad,
  /// adding it into their `grad`.
  ///
  /// - Parameters:
  ///   - gradient: the gradient of some final value with respect to this tensor. It may be
  ///     omitted only for a one-element tensor such as a loss, where it is 1.
  ///   - retainGraph: keep the recorded graph, so that `backward` can run through it again.
  ///     By default the graph is freed as it is used, as in PyTorch.
  public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
    guard let node = gradNode else {
      fatalError(
        "backward(): the tensor (shape \(shape)) does not require grad; set requiresGrad on a "
          + "parameter it depends on, outside withNoGrad")
    }
    if node.graphWasFreed {
      fatalError(
        "backward(): the graph behind this tensor was already used and freed; "
          + "pass retainGraph: true to the first backward() to go through it twice")
    }
    let seed: Tensor
    if let gradient {
      guard gradient.shape == shape else {
        fatalError("backward(): gradient shape \(gradient.shape) does not match \(shape)")
      }
      seed = gradient.detach()
    } else {
      guard count == 1 else {
        fatalError(
          "backward(): a gradient can be implied only for a one-element tensor, "
            + "but this one has shape \(shape); pass the gradient explicitly")
      }
      seed = Tensor(shape: shape, scalars: [1])
    }
    node.backpropagate(seed: seed, retainGraph: retainGraph)
  }
}
