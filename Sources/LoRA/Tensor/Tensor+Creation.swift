extension Tensor {
  /// A scalar (zero-dimensional) tensor.
  public convenience init(_ value: Float, requiresGrad: Bool = false) {
    self.init(shape: [], scalars: [value], requiresGrad: requiresGrad)
  }

  /// A vector: `Tensor([1, 2, 3])`.
  public convenience init(_ values: [Float], requiresGrad: Bool = false) {
    self.init(shape: [values.count], scalars: values, requiresGrad: requiresGrad)
  }

  /// A matrix from its rows: `Tensor([[1, 2], [3, 4]])`.
  public convenience init(_ rows: [[Float]], requiresGrad: Bool = false) {
    let columns = rows.first?.count ?? 0
    for (index, row) in rows.enumerated() where row.count != columns {
      fatalError("Tensor: row \(index) has \(row.count) elements, row 0 has \(columns)")
    }
    self.init(
      shape: [rows.count, columns], scalars: rows.flatMap { $0 }, requiresGrad: requiresGrad)
  }

  /// A three-dimensional tensor from nested arrays: `Tensor([[[1, 2]], [[3, 4]]])`.
  public convenience init(_ matrices: [[[Float]]], requiresGrad: Bool = false) {
    let first = Tensor(matrices.first ?? [])
    var scalars: [Float] = []
    scalars.reserveCapacity(matrices.count * first.count)
    for (index, matrix) in matrices.enumerated() {
      let next = Tensor(matrix)
      guard next.shape == first.shape else {
        fatalError("Tensor: matrix \(index) has shape \(next.shape), matrix 0 has \(first.shape)")
      }
      scalars += next.scalars
    }
    self.init(shape: [matrices.count] + first.shape, scalars: scalars, requiresGrad: requiresGrad)
  }

  /// A tensor of `shape` filled with `value`.
  public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
    Tensor(
      shape: shape, scalars: [Float](repeating: value, count: elementCount(shape)),
      requiresGrad: requiresGrad)
  }

  /// A tensor of zeros.
  public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    full(shape, 0, requiresGrad: requiresGrad)
  }

  /// A tensor of ones.
  public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    full(shape, 1, requiresGrad: requiresGrad)
  }

  /// `0, 1, 2, …` up to but excluding `end`, like `torch.arange(end)`.
  public static func arange(_ end: Float) -> Tensor {
    arange(0, end)
  }

  /// `start, start + step, …` up to but excluding `end`, like `torch.arange`.
  public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
    guard step != 0 else { fatalError("arange: step must not be zero") }
    let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
    return Tensor((0..<count).map { start + Float($0) * step })
  }

  /// Draws from the standard normal distribution (mean 0, standard deviation 1).
  public static func randn(
    _ shape: [Int], requiresGrad: Bool = false,
    using generator: inout RandomGenerator
  ) -> Tensor {
    let scalars = (0..<elementCount(shape)).map { _ in generator.nextNormal() }
    return Tensor(shape: shape, scalars: scalars, requiresGrad: requiresGrad)
  }

  /// Draws from the standard normal distribution with the library-wide generator.
  public static func randn(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    randn(shape, requiresGrad: requiresGrad, using: &Random.generator)
  }

  /// Draws uniformly from `[low, high)`.
  public static func uniform(
    _ shape: [Int], low: Float = 0, high: Float = 1, requiresGrad: Bool = false,
    using generator: inout RandomGenerator
  ) -> Tensor {
    let width = high - low
    let scalars = (0..<elementCount(shape)).map { _ in low + width * generator.nextUniform() }
    return Tensor(shape: shape, scalars: scalars, requiresGrad: requiresGrad)
  }

  /// Draws uniformly from `[low, high)` with the library-wide generator.
  public static func uniform(
    _ shape: [Int], low: Float = 0, high: Float = 1, requiresGrad: Bool = false
  ) -> Tensor {
    uniform(shape, low: low, high: high, requiresGrad: requiresGrad, using: &Random.generator)
  }

  /// The `n × n` lower-triangular matrix of ones, the usual causal attention mask.
  public static func tril(_ n: Int) -> Tensor {
    var scalars = [Float](repeating: 0, count: n * n)
    for row in 0..<n {
      for column in 0...row { scalars[row * n + column] = 1 }
    }
    return Tensor(shape: [n, n], scalars: scalars)
  }
}
