import Foundation

extension Tensor {
  /// The target `crossEntropy` skips unless told otherwise: PyTorch's `ignore_index`, −100,
  /// which Hugging Face's labels use to mark padding.
  public static let ignoredTarget = -100

  /// The mean squared error between `self` (predictions) and `target`, like `nn.MSELoss()`.
  public func mseLoss(_ target: Tensor) -> Tensor {
    guard shape == target.shape else {
      fatalError("mseLoss: prediction shape \(shape) and target shape \(target.shape) differ")
    }
    let difference = self - target
    return (difference * difference).mean()
  }

  /// The mean cross-entropy of logits `[N, C]` against class indices, like
  /// `nn.functional.cross_entropy`: `-mean(logSoftmax(logits)[n, target[n]])`.
  ///
  /// Rows whose target is `ignoreIndex` (by default `ignoredTarget`, −100) count for
  /// nothing: the mean is over the other rows, and the ignored rows' gradient is zero. When
  /// every row is ignored the loss is NaN, as PyTorch's is.
  public func crossEntropy(_ targets: [Int], ignoreIndex: Int = ignoredTarget) -> Tensor {
    guard rank == 2 else {
      fatalError(
        "crossEntropy: logits must be [N, C], got shape \(shape); reshape to [-1, C] first")
    }
    let (rows, classes) = (shape[0], shape[1])
    guard targets.count == rows else {
      fatalError("crossEntropy: \(rows) rows of logits but \(targets.count) targets")
    }
    for target in targets where target != ignoreIndex && (target < 0 || target >= classes) {
      fatalError("crossEntropy: target \(target) is out of range for \(classes) classes")
    }
    let node = gradNode
    // Each row's log-sum-exp, log Σ exp(x), is all that backward needs beside the logits
    // themselves (shared, not copied): the [N, C] log-probabilities are never stored. For
    // GPT-2's 50,257 classes that is 100 MB less for 512 positions, and a pass less.
    let logits = scalars
    var logSumExp = [Float](repeating: 0, count: rows)
    logits.withUnsafeBufferPointer { x in
      logSumExp.withUnsafeMutableBufferPointer { lse in
        parallelChunks(rows, minimumPerChunk: Swift.max(1, (1 << 14) / Swift.max(1, classes))) {
          chunk in
          var scratch = [Float](repeating: 0, count: classes)
          scratch.withUnsafeMutableBufferPointer { row in
            for r in chunk where targets[r] != ignoreIndex {
              lse[r] = rowLogSumExp(
                x.baseAddress! + r * classes, count: classes, scratch: row.baseAddress!)
            }
          }
        }
      }
    }

    var total: Float = 0
    var counted = 0
    for (row, target) in targets.enumerated() where target != ignoreIndex {
      total -= logits[row * classes + target] - logSumExp[row]
      counted += 1
    }
    let loss = total / Float(counted)
    let saved = SavedLogits(logits)
    let logitsShape = shape
    return .result(of: "crossEntropy", shape: [], scalars: [loss], inputs: [self]) {
      gradient in
      guard let node else { return }
      // d loss / d logits = (softmax - onehot) / N, softmax = exp(x - logSumExp).
      let scale = gradient.scalars[0] / Float(counted)
      /// Writes row `r`'s gradient into `dx` from the logits `x` (which may be `dx` itself).
      func writeRow(_ r: Int, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        guard targets[r] != ignoreIndex else {
          dx.update(repeating: 0, count: classes)
          return
        }
        _ = storeShiftedExp(x, dx, count: classes, scale: 1, shift: logSumExp[r])
        scaleInPlace(dx, count: classes, by: scale)
        dx[targets[r]] -= scale
      }
      let minimumRows = Swift.max(1, (1 << 14) / Swift.max(1, classes))
      if !node.holdsGradient && !GradMode.isRetainingGraph {
        // This is the logits' last use: they become their own gradient, in place, and no
        // second buffer of their size is made (100 MB for GPT-2 small's batch). When the
        // caller still holds them, the first write copies them, which costs what a fresh
        // buffer would.
        var buffer = saved.take()
        buffer.withUnsafeMutableBufferPointer { x in
          parallelChunks(rows, minimumPerChunk: minimumRows) { chunk in
            for r in chunk {
              writeRow(r, x.baseAddress! + r * classes, x.baseAddress! + r * classes)
            }
          }
        }
        node.accumulate(Tensor(shape: logitsShape, scalars: buffer))
        return
      }
      saved.logits.withUnsafeBufferPointer { x in
        node.accumulateOrWrite { dx, fresh in
          parallelChunks(rows, minimumPerChunk: minimumRows) { chunk in
            // Fresh: each row goes straight into the gradient; else beside it, then added.
            var spare = [Float](repeating: 0, count: fresh ? 0 : classes)
            spare.withUnsafeMutableBufferPointer { spare in
              for r in chunk {
                let (logits, gradient) = (
                  x.baseAddress! + r * classes, dx.baseAddress! + r * classes
                )
                if fresh {
                  writeRow(r, logits, gradient)
                } else {
                  writeRow(r, logits, spare.baseAddress!)
                  addAssign(gradient, spare.baseAddress!, count: classes)
                }
              }
            }
          }
        }
      }
    }
  }
}

/// The logits a cross-entropy saved for its backward, which may hand them over to become
/// their own gradient.
private final class SavedLogits {
  private(set) var logits: [Float]
  init(_ logits: [Float]) { self.logits = logits }

  /// The logits, leaving none behind (so that, unless the caller holds them too, the array
  /// returned is their only reference and writes to it copy nothing).
  func take() -> [Float] {
    defer { logits = [] }
    return logits
  }
}
