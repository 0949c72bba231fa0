import Foundation

extension BinaryFloatingPoint {
  /// The value with `digits` digits after the point, as Python's `f"{x:.4f}"`:
  /// `0.012345.fixed(4)` is `"0.0123"`.
  public func fixed(_ digits: Int) -> String {
    String(format: "%.\(max(0, digits))f", Double(self))
  }

  /// The value as a percentage with `digits` digits after the point: `0.1234.percent(1)`
  /// is `"12.3%"`.
  public func percent(_ digits: Int) -> String {
    (100 * Double(self)).fixed(digits) + "%"
  }
}
