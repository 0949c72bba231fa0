import Testing

@testable import LoRA

/// A miniature of the GPT's layout, to check PyTorch-style dotted names.
private final class Head: Module {
  let key = Linear(4, 2, bias: false)
  let query = Linear(4, 2, bias: false)
}

private final class Attention: Module {
  let heads = [Head(), Head()]
  let proj = Linear(4, 4)
}

private final class Block: Module {
  let sa = Attention()
  let ffwd = Sequential([Linear(4, 8), ReLU(), Linear(8, 4)])
  let ln1 = LayerNorm(4)
}

private final class Model: Module {
  let blocks = [Block()]
  let dropout = Dropout(0.1)
}

@Suite("Modules")
struct ModuleTests {
  @Test func parametersHavePyTorchNames() {
    let names = Model().namedParameters.map(\.name)
    #expect(
      names == [
        "blocks.0.sa.heads.0.key.weight", "blocks.0.sa.heads.0.query.weight",
        "blocks.0.sa.heads.1.key.weight", "blocks.0.sa.heads.1.query.weight",
        "blocks.0.sa.proj.weight", "blocks.0.sa.proj.bias",
        "blocks.0.ffwd.0.weight", "blocks.0.ffwd.0.bias",
        "blocks.0.ffwd.2.weight", "blocks.0.ffwd.2.bias",
        "blocks.0.ln1.weight", "blocks.0.ln1.bias",
      ])
    #expect(Model().namedModules.map(\.name).contains("blocks.0.sa.heads.1.query"))
  }

  @Test func freezingAndTrainableParameters() {
    let model = Model()
    #expect(model.trainableParameters.count == 12)
    model.freeze()
    #expect(model.trainableParameters.isEmpty)
    model.blocks[0].ln1.unfreeze()
    #expect(model.trainableParameters.count == 2)
  }

  @Test func trainAndEvalReachEverySubmodule() {
    let model = Model()
    #expect(model.dropout.isTraining)
    model.eval()
    #expect(model.namedModules.allSatisfy { !$0.module.isTraining })
    model.train()
    #expect(model.blocks[0].sa.heads[1].isTraining)
  }

  @Test func dropoutLayerIsIdentityInEval() {
    let dropout = Dropout(0.5)
    let x = Tensor.ones([100])
    dropout.eval()
    #expect(dropout(x).scalars == x.scalars)
    dropout.train()
    #expect(dropout(x).scalars != x.scalars)
  }

  @Test func linearFollowsPyTorchInitialisation() {
    let layer = Random.withSeed(5) { Linear(400, 300) }
    let bound = 1 / Float(400).squareRoot()
    #expect(layer.weight.shape == [300, 400])
    #expect(layer.weight.scalars.allSatisfy { abs($0) <= bound })
    #expect(layer.bias!.scalars.allSatisfy { abs($0) <= bound })
    // A uniform on ±bound has standard deviation bound/√3, as Kaiming-uniform with a = √5 gives.
    let std = (layer.weight * layer.weight).mean().item().squareRoot()
    #expect(abs(std - bound / Float(3).squareRoot()) < 0.01 * bound)
    #expect(layer.weight.requiresGrad)
  }

  @Test func layersComputeTheirFunctions() {
    let layer = Linear(weight: Tensor([[1, 2], [3, 4]]), bias: Tensor([1, 1]))
    #expect(layer(Tensor([[1, 1]])).scalars == [4, 8])
    let embedding = Embedding(5, 3)
    #expect(embedding([[1, 2], [3, 4]]).shape == [2, 2, 3])
    #expect(embedding([4]).scalars == Array(embedding.weight.scalars[12..<15]))
    let norm = LayerNorm(4)
    let y = norm(Tensor([[1, 2, 3, 4]]))
    #expect(abs(y.mean().item()) < 1e-6)
    let mlp = Sequential([Linear(3, 5), GELU(), Linear(5, 2)])
    #expect(mlp(Tensor.ones([7, 3])).shape == [7, 2])
  }

  @Test func aSmallNetworkLearns() {
    // XOR, which no linear model fits: the loss must fall close to zero.
    Random.withSeed(3) {
      let net = Sequential([Linear(2, 8), ReLU(), Linear(8, 1)])
      let x = Tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
      let y = Tensor([[0], [1], [1], [0]])
      let optimizer = Adam(net.parameters, learningRate: 0.05)
      var loss: Float = .infinity
      for _ in 0..<300 {
        optimizer.zeroGrad()
        let l = net(x).mseLoss(y)
        l.backward()
        optimizer.step()
        loss = l.item()
      }
      #expect(loss < 0.01)
    }
  }
}
