import Foundation

/// A seeded source of random numbers that gives the same sequence on every platform and run.
///
/// The algorithm is fixed and documented so that lessons print the same numbers everywhere:
/// the 64-bit seed is expanded by SplitMix64 into the 256-bit state of xoshiro256**
/// (Blackman and Vigna, 2018). Uniform floats take the top 24 bits of a draw, so they lie in
/// [0, 1) on a grid of 2⁻²⁴. Normal draws use the Box–Muller transform on two uniforms and
/// return both values of each pair in turn.
///
/// ```swift
/// Random.seed(42)
/// let w = Tensor.randn([2, 3])  // the same numbers on every run
/// ```
public struct RandomGenerator: RandomNumberGenerator, Sendable {
  private var state: (UInt64, UInt64, UInt64, UInt64)
  private var spareNormal: Float?

  /// Creates a generator whose sequence is fixed by `seed`.
  public init(seed: UInt64) {
    var splitMix = seed
    func nextSplitMix() -> UInt64 {
      splitMix &+= 0x9E37_79B9_7F4A_7C15
      var z = splitMix
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    spareNormal = nil
  }

  /// The next 64 random bits (xoshiro256**).
  public mutating func next() -> UInt64 {
    let result = rotateLeft(state.1 &* 5, 7) &* 9
    let t = state.1 << 17
    state.2 ^= state.0
    state.3 ^= state.1
    state.1 ^= state.2
    state.0 ^= state.3
    state.2 ^= t
    state.3 = rotateLeft(state.3, 45)
    return result
  }

  /// A uniform draw from [0, 1).
  public mutating func nextUniform() -> Float {
    Float(next() >> 40) * 0x1p-24
  }

  /// A draw from the standard normal distribution.
  public mutating func nextNormal() -> Float {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1 - nextUniform()
    let u2 = nextUniform()
    let radius = (-2 * log(u1)).squareRoot()
    let angle = 2 * Float.pi * u2
    spareNormal = radius * sin(angle)
    return radius * cos(angle)
  }

  private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
  }
}

/// The library-wide generator behind `Tensor.randn`, `Tensor.uniform`, initialisers and dropout.
///
/// It starts from seed 0, so a program that never calls `seed(_:)` is still deterministic.
/// `withSeed(_:_:)` gives a block a generator of its own, which concurrent tasks do not share.
public enum Random {
  /// A generator shared by reference within one `withSeed` scope.
  final class Box: @unchecked Sendable {
    var generator: RandomGenerator
    init(_ generator: RandomGenerator) { self.generator = generator }
  }

  nonisolated(unsafe) private static var global = RandomGenerator(seed: 0)
  @TaskLocal static var scoped: Box?

  /// The generator that library functions draw from when none is passed: the one of the
  /// innermost `withSeed` scope, or else the global one.
  public static var generator: RandomGenerator {
    get { scoped?.generator ?? global }
    set {
      if let scoped { scoped.generator = newValue } else { global = newValue }
    }
  }

  /// Restarts the generator from `seed`, like `torch.manual_seed`.
  public static func seed(_ seed: UInt64) {
    generator = RandomGenerator(seed: seed)
  }

  /// Runs `body` with a generator of its own, started from `seed`; the generator outside is
  /// neither used nor advanced.
  public static func withSeed<T>(_ seed: UInt64, _ body: () throws -> T) rethrows -> T {
    try $scoped.withValue(Box(RandomGenerator(seed: seed)), operation: body)
  }
}

extension RandomGenerator: Codable {
  private enum CodingKeys: String, CodingKey { case state, spareNormal }

  /// Its exact position in the sequence: the four words of state and the spare normal draw
  /// (as its bit pattern), so that a restored generator continues bit for bit.
  public func encode(to encoder: Encoder) throws {
    var fields = encoder.container(keyedBy: CodingKeys.self)
    try fields.encode([state.0, state.1, state.2, state.3], forKey: .state)
    try fields.encodeIfPresent(spareNormal?.bitPattern, forKey: .spareNormal)
  }

  /// A generator at the position `encode(to:)` recorded.
  public init(from decoder: Decoder) throws {
    let fields = try decoder.container(keyedBy: CodingKeys.self)
    let words = try fields.decode([UInt64].self, forKey: .state)
    guard words.count == 4 else {
      throw DecodingError.dataCorruptedError(
        forKey: .state, in: fields, debugDescription: "a generator's state is four words")
    }
    state = (words[0], words[1], words[2], words[3])
    spareNormal = try fields.decodeIfPresent(UInt32.self, forKey: .spareNormal).map {
      Float(bitPattern: $0)
    }
  }
}
