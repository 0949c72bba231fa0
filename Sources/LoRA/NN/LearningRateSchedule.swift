import Foundation

/// A learning rate as a function of the step number, set on an optimizer before each step.
///
/// ```swift
/// let schedule = LearningRateSchedule.warmupLinearDecay(peak: 1e-3, warmupSteps: 20, totalSteps: 200)
/// for step in 0..<200 {
///   optimizer.learningRate = schedule(step)
///   ...
/// }
/// ```
public struct LearningRateSchedule: Sendable {
  private let rate: @Sendable (Int) -> Float

  /// A schedule from any function of the step.
  public init(_ rate: @escaping @Sendable (Int) -> Float) {
    self.rate = rate
  }

  /// The learning rate at `step` (counted from 0).
  public func callAsFunction(_ step: Int) -> Float {
    rate(step)
  }

  /// The same rate at every step.
  public static func constant(_ value: Float) -> LearningRateSchedule {
    LearningRateSchedule { _ in value }
  }

  /// A linear rise from 0 to `peak` over `warmupSteps`, then a linear fall to 0 at
  /// `totalSteps`, as Hugging Face's `get_linear_schedule_with_warmup`.
  public static func warmupLinearDecay(
    peak: Float, warmupSteps: Int, totalSteps: Int
  ) -> LearningRateSchedule {
    LearningRateSchedule { step in
      if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
      let remaining = Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps))
      return peak * max(0, remaining)
    }
  }

  /// An optional linear warm-up to `peak`, then a half cosine down to `minimum` at `totalSteps`.
  public static func cosine(
    peak: Float, totalSteps: Int, warmupSteps: Int = 0, minimum: Float = 0
  ) -> LearningRateSchedule {
    LearningRateSchedule { step in
      if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
      let progress = min(1, Float(step - warmupSteps) / Float(max(1, totalSteps - warmupSteps)))
      return minimum + (peak - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
    }
  }
}
