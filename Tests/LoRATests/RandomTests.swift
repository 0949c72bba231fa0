import Testing

@testable import LoRA

@Suite("Seeded random numbers")
struct RandomTests {
  @Test func sameSeedSameTensors() {
    let first = Random.withSeed(42) { Tensor.randn([3, 4]) }
    let second = Random.withSeed(42) { Tensor.randn([3, 4]) }
    #expect(first.scalars == second.scalars)
    let other = Random.withSeed(43) { Tensor.randn([3, 4]) }
    #expect(first.scalars != other.scalars)
  }

  @Test func seedRestartsTheSequence() {
    Random.withSeed(0) {
      Random.seed(7)
      let a = Tensor.uniform([5])
      Random.seed(7)
      #expect(Tensor.uniform([5]).scalars == a.scalars)
    }
  }

  @Test func theAlgorithmIsPinned() {
    // xoshiro256** seeded through SplitMix64: these are the first outputs for seed 0 on
    // every platform. Changing them changes every number every lesson prints.
    var generator = RandomGenerator(seed: 0)
    #expect(generator.next() == 0x99EC_5F36_CB75_F2B4)
    #expect(generator.next() == 0xBF6E_1F78_4956_452A)
    var uniform = RandomGenerator(seed: 0)
    #expect(uniform.nextUniform() == Float(0x99EC5F) * 0x1p-24)
  }

  @Test func modulesInitialiseDeterministically() {
    let a = Random.withSeed(1) { Linear(4, 3) }
    let b = Random.withSeed(1) { Linear(4, 3) }
    #expect(a.weight.scalars == b.weight.scalars)
    #expect(a.bias!.scalars == b.bias!.scalars)
  }
}
