import Foundation

/// Updates parameters from their gradients, in the shape of `torch.optim.Optimizer`.
///
/// Only parameters that require gradients are kept, so frozen weights never get optimizer
/// state. A parameter whose `grad` is `nil` is skipped by `step()`.
public protocol Optimizer: AnyObject {
  /// The parameters updated by `step()`.
  var parameters: [Tensor] { get }
  /// The step size; a schedule may change it between steps.
  var learningRate: Float { get set }
  /// Applies one update from the current gradients.
  func step()
}

extension Optimizer {
  /// Clears the gradients of every parameter, like `optimizer.zero_grad()`.
  public func zeroGrad() {
    for parameter in parameters { parameter.grad = nil }
  }
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
/// L2 weight decay, with `torch.optim.SGD`'s update rule.
public final class SGD: Optimizer {
  /// The trainable parameters this optimizer updates.
  public let parameters: [Tensor]
  /// The step size.
  public var learningRate: Float
  /// The momentum factor; 0 for plain SGD.
  public let momentum: Float
  /// Dampening for momentum.
  public let dampening: Float
  /// L2 penalty, added to the gradient.
  public let weightDecay: Float
  /// Whether to use Nesterov momentum.
  public let nesterov: Bool
  /// Each parameter's momentum buffer, once it has one.
  var velocity: [ObjectIdentifier: [Float]] = [:]

  /// An SGD optimizer over the trainable ones among `parameters`.
  public init(
    _ parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
    weightDecay: Float = 0, nesterov: Bool = false
  ) {
    self.parameters = parameters.filter(\.requiresGrad)
    self.learningRate = learningRate
    self.momentum = momentum
    self.dampening = dampening
    self.weightDecay = weightDecay
    self.nesterov = nesterov
    LiveObjects.register(self)
  }

  /// Applies one update to every parameter that has a gradient.
  public func step() {
    for parameter in parameters {
      guard let grad = parameter.grad else { continue }
      let key = ObjectIdentifier(parameter)
      let isFirstStep = velocity[key] == nil
      var buffer = velocity.removeValue(forKey: key) ?? []
      if momentum != 0 && isFirstStep { buffer = [Float](repeating: 0, count: parameter.count) }
      parameter.scalars.withUnsafeMutableBufferPointer { p in
        grad.scalars.withUnsafeBufferPointer { g in
          buffer.withUnsafeMutableBufferPointer { b in
            for i in 0..<p.count {
              var d = g[i] + weightDecay * p[i]
              if momentum != 0 {
                b[i] = isFirstStep ? d : momentum * b[i] + (1 - dampening) * d
                d = nesterov ? d + momentum * b[i] : b[i]
              }
              p[i] -= learningRate * d
            }
          }
        }
      }
      if momentum != 0 { velocity[key] = buffer }
    }
  }
}

/// Adam, with `torch.optim.Adam`'s update rule and defaults; with `decoupledWeightDecay` it is
/// AdamW (Loshchilov and Hutter), which shrinks weights directly instead of through the gradient.
public class Adam: Optimizer {
  /// The trainable parameters this optimizer updates, group after group.
  public let parameters: [Tensor]
  /// The parameters in groups, each with its own step size and weight decay.
  public let groups: [ParameterGroup]
  /// The step size (of a group whose factor is 1).
  public var learningRate: Float
  /// Decay rates of the first and second moment estimates.
  public let betas: (Float, Float)
  /// Added to the denominator for numerical stability.
  public let eps: Float
  /// The weight decay factor.
  public let weightDecay: Float
  /// Whether weight decay is decoupled from the gradient (AdamW) or added to it as L2 (Adam).
  public let decoupledWeightDecay: Bool
  /// Each parameter's first and second moment estimates, once it has been updated.
  var moments: [ObjectIdentifier: (first: [Float], second: [Float])] = [:]
  /// The number of steps taken, for bias correction.
  public internal(set) var stepCount = 0

  /// An Adam optimizer over the trainable ones among `parameters`.
  public convenience init(
    _ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
    eps: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
  ) {
    self.init(
      groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
      weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay)
  }

  /// An Adam optimizer over parameter groups, as PyTorch's `param_groups`: each group's step
  /// size is its factor times `learningRate`, so a schedule that sets `learningRate` scales
  /// every group alike (as `LambdaLR` does), and each may have its own weight decay.
  public init(
    groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
    eps: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
  ) {
    self.groups = groups.map {
      ParameterGroup(
        $0.parameters.filter(\.requiresGrad), learningRateFactor: $0.learningRateFactor,
        weightDecay: $0.weightDecay)
    }
    self.parameters = self.groups.flatMap(\.parameters)
    self.learningRate = learningRate
    self.betas = betas
    self.eps = eps
    self.weightDecay = weightDecay
    self.decoupledWeightDecay = decoupledWeightDecay
    LiveObjects.register(self)
  }

  /// Bytes held by the moment estimates; only parameters that have been updated have any.
  public var stateBytes: Int {
    moments.values.reduce(0) { $0 + ($1.first.count + $1.second.count) * MemoryLayout<Float>.size }
  }

  /// Applies one update to every parameter that has a gradient.
  public func step() {
    stepCount += 1
    for group in groups {
      update(
        group.parameters, learningRate: learningRate * group.learningRateFactor,
        weightDecay: group.weightDecay ?? weightDecay)
    }
  }

  private func update(_ parameters: [Tensor], learningRate: Float, weightDecay: Float) {
    let (beta1, beta2) = betas
    let biasCorrection1 = 1 - Foundation.pow(beta1, Float(stepCount))
    let biasCorrection2Root = (1 - Foundation.pow(beta2, Float(stepCount))).squareRoot()
    let stepSize = learningRate / biasCorrection1
    for parameter in parameters {
      guard let grad = parameter.grad else { continue }
      let key = ObjectIdentifier(parameter)
      var (first, second) =
        moments.removeValue(forKey: key)
        ?? (
          [Float](repeating: 0, count: parameter.count),
          [Float](repeating: 0, count: parameter.count)
        )
      parameter.scalars.withUnsafeMutableBufferPointer { p in
        grad.scalars.withUnsafeBufferPointer { g in
          first.withUnsafeMutableBufferPointer { m in
            second.withUnsafeMutableBufferPointer { v in
              // Constants hoisted, so that the loop is straight-line arithmetic that vectorises.
              let shrink = decoupledWeightDecay ? 1 - learningRate * weightDecay : 1
              let l2 = decoupledWeightDecay ? 0 : weightDecay
              let inverseCorrection2 = 1 / biasCorrection2Root
              for i in 0..<p.count {
                let gradient = g[i] + l2 * p[i]
                p[i] *= shrink
                m[i] = beta1 * m[i] + (1 - beta1) * gradient
                v[i] = beta2 * v[i] + (1 - beta2) * gradient * gradient
                let denominator = v[i].squareRoot() * inverseCorrection2 + eps
                p[i] -= stepSize * m[i] / denominator
              }
            }
          }
        }
      }
      moments[key] = (first, second)
    }
  }
}

/// Parameters an optimizer updates alike, as an entry of PyTorch's `param_groups`.
public struct ParameterGroup {
  /// The group's parameters.
  public var parameters: [Tensor]
  /// The group's step size as a multiple of the optimizer's `learningRate`.
  public var learningRateFactor: Float
  /// The group's weight decay, or `nil` for the optimizer's.
  public var weightDecay: Float?

  /// A group of `parameters` with its own step-size factor and weight decay.
  public init(_ parameters: [Tensor], learningRateFactor: Float = 1, weightDecay: Float? = nil) {
    self.parameters = parameters
    self.learningRateFactor = learningRateFactor
    self.weightDecay = weightDecay
  }
}

/// AdamW: Adam with decoupled weight decay, as `torch.optim.AdamW` (weight decay 0.01 by default).
public final class AdamW: Adam {
  /// An AdamW optimizer over the trainable ones among `parameters`.
  public convenience init(
    _ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
    eps: Float = 1e-8, weightDecay: Float = 0.01
  ) {
    self.init(
      groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
      weightDecay: weightDecay)
  }

  /// An AdamW optimizer over parameter groups (see `Adam.init(groups:...)`).
  public init(
    groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
    eps: Float = 1e-8, weightDecay: Float = 0.01
  ) {
    super.init(
      groups: groups, learningRate: learningRate, betas: betas, eps: eps,
      weightDecay: weightDecay, decoupledWeightDecay: true)
  }
}

/// Scales all gradients down together when their global L2 norm exceeds `maxNorm`, like
/// `torch.nn.utils.clip_grad_norm_`, and returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
  var squares: Double = 0
  for parameter in parameters {
    for g in parameter.grad?.scalars ?? [] { squares += Double(g) * Double(g) }
  }
  let norm = Float(squares.squareRoot())
  let scale = maxNorm / (norm + 1e-6)
  if scale < 1 {
    for parameter in parameters {
      parameter.grad?.scalars.withUnsafeMutableBufferPointer { g in
        for i in 0..<g.count { g[i] *= scale }
      }
    }
  }
  return norm
}
