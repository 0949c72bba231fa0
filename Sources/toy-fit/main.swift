// The y = Wx + 5 toy fit: a frozen 100×100 layer learns a constant shift through a rank-4
// low-rank update, trained with Adam. This stands in for the lesson runner until it exists.
import LoRA

Random.seed(0)
let frozen = Linear(100, 100, bias: false)
frozen.freeze()
let rank = 4
let alpha: Float = 1
let loraA = Tensor.randn([100, rank], requiresGrad: true) / Float(rank).squareRoot()
let a = loraA.detach()
a.requiresGrad = true
let b = Tensor.zeros([rank, 100], requiresGrad: true)
let x = Tensor.randn([10, 100])
let target = withNoGrad { frozen(x) + 5 }
let weightSum = frozen.weight.sum().item()

let optimizer = Adam([a, b], learningRate: 0.1)
for epoch in 0..<100 {
  optimizer.zeroGrad()
  let y = frozen(x) + x.matmul(a).matmul(b) * (alpha / Float(rank))
  let loss = y.mseLoss(target)
  loss.backward()
  optimizer.step()
  if epoch % 10 == 0 { print("epoch \(epoch)  loss \(loss.item())") }
}
let final = withNoGrad {
  (frozen(x) + x.matmul(a).matmul(b) * (alpha / Float(rank))).mseLoss(target)
}
print("final loss \(final.item())")
print("frozen weights unchanged: \(frozen.weight.sum().item() == weightSum)")
