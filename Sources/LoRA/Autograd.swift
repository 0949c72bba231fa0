/// Whether operations record a graph for `backward()`; off inside `withNoGrad`.
///
/// A task-local value, so that concurrent tasks (tests running in parallel, say) each have
/// their own mode.
enum GradMode {
  @TaskLocal static var isEnabled = true
}

/// Runs `body` without recording operations for autograd, like `torch.no_grad()`.
///
/// Use it for evaluation, generation and hand-written parameter updates.
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
  try GradMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
  /// Builds the result of an operation and, when any input needs gradients, records how to
  /// send the result's gradient back to the inputs.
  ///
  /// `backward` receives the result's gradient and must add into the gradient of each input
  /// that `requiresGrad` (see `accumulateGrad`). It runs with recording switched off.
  static func result(
    of operation: String, shape: [Int], scalars: [Float], inputs: [Tensor],
    backward: @escaping (_ gradient: Tensor) -> Void
  ) -> Tensor {
    let output = Tensor(shape: shape, scalars: scalars)
    if GradMode.isEnabled && inputs.contains(where: \.requiresGrad) {
      output.requiresGrad = true
      output.parents = inputs
      output.backwardFunction = backward
      output.operation = operation
    }
    return output
  }

  /// Adds `gradient` into this tensor's gradient.
  func accumulateGrad(_ gradient: Tensor) {
    guard gradient.shape == shape else {
      fatalError(
        "backward of \(operation ?? "leaf"): gradient shape \(gradient.shape) "
          + "does not match tensor shape \(shape)")
    }
    guard let existing = grad else {
      grad = gradient.detach()
      return
    }
    existing.scalars.withUnsafeMutableBufferPointer { sum in
      gradient.scalars.withUnsafeBufferPointer { addend in
        for i in sum.indices { sum[i] += addend[i] }
      }
    }
  }

  /// Lets `body` add directly into this tensor's gradient buffer, created as zeros if needed.
  /// Kernels such as matrix products accumulate in place this way, without a temporary.
  func accumulateGrad(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
    if grad == nil {
      grad = Tensor(shape: shape, scalars: [Float](repeating: 0, count: count))
    }
    grad!.scalars.withUnsafeMutableBufferPointer { body($0) }
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
    guard requiresGrad else {
      fatalError(
        "backward(): the tensor (shape \(shape)) does not require grad; set requiresGrad on a "
          + "parameter it depends on, outside withNoGrad")
    }
    if graphWasFreed {
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

    let order = topologicalOrder()
    accumulateGrad(seed)
    withNoGrad {
      for node in order.reversed() {
        guard let function = node.backwardFunction else { continue }
        if let nodeGradient = node.grad {
          function(nodeGradient)
        }
        // Intermediate gradients are not needed again, nor, unless retained, is the graph:
        // freeing them as we go keeps the peak memory of a training step low.
        node.grad = nil
        if !retainGraph {
          node.backwardFunction = nil
          node.parents = []
          node.graphWasFreed = true
        }
      }
    }
  }

  /// Every tensor this one depends on through recorded operations, inputs before outputs.
  private func topologicalOrder() -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    // An explicit stack rather than recursion, so deep graphs cannot overflow the call stack.
    var stack: [(node: Tensor, parentsPushed: Bool)] = [(self, false)]
    while let (node, parentsPushed) = stack.popLast() {
      if parentsPushed {
        order.append(node)
        continue
      }
      guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
      stack.append((node, true))
      for parent in node.parents where parent.requiresGrad {
        if !visited.contains(ObjectIdentifier(parent)) { stack.append((parent, false)) }
      }
    }
    return order
  }
}
