import Foundation

extension Tensor {
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
  public func crossEntropy(_ targets: [Int]) -> Tensor {
    guard rank == 2 else {
      fatalError(
        "crossEntropy: logits must be [N, C], got shape \(shape); reshape to [-1, C] first")
    }
    let (rows, classes) = (shape[0], shape[1])
    guard targets.count == rows else {
      fatalError("crossEntropy: \(rows) rows of logits but \(targets.count) targets")
    }
    for target in targets where target < 0 || target >= classes {
      fatalError("crossEntropy: target \(target) is out of range for \(classes) classes")
    }
    let node = gradNode
    let logProbabilities = withNoGrad { logSoftmax(axis: 1) }
    var total: Float = 0
    for (row, target) in targets.enumerated() {
      total -= logProbabilities.scalars[row * classes + target]
    }
    let loss = total / Float(rows)
    return .result(of: "crossEntropy", shape: [], scalars: [loss], inputs: [self]) {
      gradient in
      // d loss / d logits = (softmax - onehot) / N
      let scale = gradient.scalars[0] / Float(rows)
      logProbabilities.scalars.withUnsafeBufferPointer { logP in
        node?.accumulate { dx in
          for row in 0..<rows {
            for c in 0..<classes {
              dx[row * classes + c] += fastExp(logP[row * classes + c]) * scale
            }
            dx[row * classes + targets[row]] -= scale
          }
        }
      }
    }
  }
}
