/// An AdamW for LoRA+ (Hayou et al., 2024), as PEFT's `create_loraplus_optimizer` builds it:
/// B learns `ratio` times faster than A, since B starts at zero and its best step size is
/// larger. The trainable parameters fall in PEFT's four groups:
///
/// - A matrices and every other trainable matrix (a trainable embedding table too):
///   `learningRate`, `weightDecay`;
/// - B matrices and every trainable vector (PEFT counts 1-D parameters with B): `ratio` ×
///   `learningRate`, with `weightDecay` unless they are biases or inside a LayerNorm, which
///   get none.
///
/// (PEFT's fourth group, at `loraplus_lr_embedding`, holds the A and B of LoRA on embedding
/// layers, which this library does not make.)
///
/// A schedule that sets the optimizer's `learningRate` scales all four alike.
///
/// ```swift
/// try applyLoRA(to: model, targets: ["c_attn"], rank: 8, alpha: 16)
/// let optimizer = loraPlusOptimizer(for: model, learningRate: 2e-4)  // B at 3.2e-3
/// ```
public func loraPlusOptimizer(
  for model: Module, learningRate: Float, ratio: Float = 16, weightDecay: Float = 0,
  betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8
) -> AdamW {
  var groupA: [Tensor] = []
  var groupB: [Tensor] = []
  var groupBNoDecay: [Tensor] = []
  var seen = Set<ObjectIdentifier>()
  for (_, module) in model.namedModules {
    for (name, parameter) in module.namedOwnParameters
    where parameter.requiresGrad && seen.insert(ObjectIdentifier(parameter)).inserted {
      if name.contains("lora_B") || parameter.rank == 1 {
        // PEFT's decay list leaves out every LayerNorm parameter and every name with "bias".
        if module is LayerNorm || name.contains("bias") {
          groupBNoDecay.append(parameter)
        } else {
          groupB.append(parameter)
        }
      } else {
        groupA.append(parameter)
      }
    }
  }
  return AdamW(
    groups: [
      ParameterGroup(groupA, weightDecay: weightDecay),
      ParameterGroup(groupB, learningRateFactor: ratio, weightDecay: weightDecay),
      ParameterGroup(groupBNoDecay, learningRateFactor: ratio, weightDecay: 0),
    ], learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay)
}
