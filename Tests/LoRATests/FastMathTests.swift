import Foundation
import Testing

@testable import LoRA

@Suite("Fast math matches libm")
struct FastMathTests {
  @Test func expIsWithinTwoUlp() {
    var worst: Double = 0
    for x in stride(from: Float(-87), through: 88, by: 0.0137) {
      let exact = Foundation.exp(Double(x))
      worst = max(worst, abs(Double(fastExp(x)) - exact) / exact)
    }
    #expect(worst < 2 * Double(Float.ulpOfOne) / 2)
  }

  /// Φ(x) = ½ erfc(−x/√2) against libm's double-precision erfc, relative error, on both
  /// tails and through the middle: GELU is x·Φ(x). (One value goes through the eight-lane
  /// form, so this checks both.)
  @Test func normalCDFIsWithinAFewUlpOnBothTails() {
    var worst: Double = 0
    for x in stride(from: Float(-12), through: 12, by: 0.0071) {
      let exact = 0.5 * Foundation.erfc(-Double(x) / 2.0.squareRoot())
      worst = max(worst, abs(Double(normalCDF(x)) - exact) / exact)
    }
    #expect(worst < 8 * Double(Float.ulpOfOne) / 2, "worst relative error \(worst)")
    #expect(normalCDF(0) == 0.5)
    #expect(normalCDF(-.infinity) == 0 && normalCDF(.infinity) == 1)
  }

  @Test func expHandlesTheEdges() {
    #expect(fastExp(0) == 1)
    #expect(fastExp(-.infinity) == 0)
    #expect(fastExp(-100) == 0)
    #expect(fastExp(.infinity) == .infinity)
    #expect(fastExp(100) == .infinity)
    #expect(fastExp(.nan).isNaN)
  }

  @Test func vectorSumsMatchPlainSums() {
    let values = (0..<1003).map { Float($0 % 17) - 8 }
    let mean: Float = 0.5
    values.withUnsafeBufferPointer { buffer in
      #expect(vectorSum(buffer.baseAddress!, count: buffer.count) == values.reduce(0, +))
      let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
      #expect(vectorSumOfSquares(buffer.baseAddress!, count: buffer.count, around: mean) == squares)
    }
  }
}
