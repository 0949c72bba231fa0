import Testing

@testable import LoRA

/// Programmer mistakes stop the program with a message that names the operation and shapes.
@Suite("Error messages")
struct ErrorMessageTests {
  /// Whether the exit test's standard error contains `expected`.
  func stderr(_ result: ExitTest.Result?, contains expected: String) -> Bool {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self).contains(expected)
  }

  @Test func matmulNamesBothShapes() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
    }
    #expect(stderr(result, contains: "matmul: shapes [2, 3] and [4, 5] are not aligned"))
  }

  @Test func broadcastingNamesBothShapes() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
    }
    #expect(stderr(result, contains: "add: shapes [2, 3] and [4] cannot be broadcast together"))
  }

  @Test func linearNamesInputAndWeight() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Linear(5, 4)(Tensor.zeros([2, 3]))
    }
    #expect(
      stderr(result, contains: "linear: input of shape [2, 3] does not fit weight of shape [4, 5]"))
  }

  @Test func reshapeNamesTheShapes() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.zeros([2, 3]).reshaped([4, -1])
    }
    #expect(
      stderr(
        result, contains: "reshape: cannot view a tensor of shape [2, 3] (6 elements) as [4, -1]"))
  }

  @Test func itemNeedsOneElement() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor([1, 2]).item()
    }
    #expect(stderr(result, contains: "item(): the tensor has 2 elements"))
  }

  @Test func crossEntropyChecksTargets() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.zeros([1, 3]).crossEntropy([3])
    }
    #expect(stderr(result, contains: "crossEntropy: target 3 is out of range for 3 classes"))
  }

  @Test func backwardTwiceWithoutRetainingTheGraph() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      let x = Tensor([1], requiresGrad: true)
      let loss = (x * x).sum()
      loss.backward()
      loss.backward()
    }
    #expect(stderr(result, contains: "the graph behind this tensor was already used and freed"))
  }
}
