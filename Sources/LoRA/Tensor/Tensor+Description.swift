import Foundation

extension Tensor: CustomStringConvertible {
  /// The elements as PyTorch prints them, followed by the shape:
  /// `tensor([[0.1234, 0.5678], [1.0000, 2.0000]], shape: [2, 2])`.
  ///
  /// Elements share one format and width; integers print as `1.`; very large or small
  /// magnitudes switch to scientific notation. Tensors over 1,000 elements show the first and
  /// last three entries of each dimension around `...`.
  public var description: String {
    let format = ElementFormat(scalars)
    let summarize = count > 1000
    var text = "tensor("
    if rank == 0 {
      text += format.string(scalars[0])
    } else {
      appendNested(to: &text, axis: 0, offset: 0, format: format, summarize: summarize)
    }
    text += ", shape: \(shape)"
    if requiresGrad { text += ", requiresGrad: true" }
    return text + ")"
  }

  private func appendNested(
    to text: inout String, axis: Int, offset: Int, format: ElementFormat, summarize: Bool
  ) {
    let length = shape[axis]
    let stride = shape[(axis + 1)...].reduce(1, *)
    let indentation = String(repeating: " ", count: 8 + axis)
    let separator =
      axis == rank - 1 ? ", " : "," + String(repeating: "\n", count: rank - 1 - axis) + indentation
    let shown: [Int?] =
      summarize && length > 6
      ? Array(0..<3) + [nil] + Array((length - 3)..<length) : Array(0..<length)
    text += "["
    for (position, index) in shown.enumerated() {
      if position > 0 { text += separator }
      guard let index else {
        text += "..."
        continue
      }
      if axis == rank - 1 {
        text += format.string(scalars[offset + index])
      } else {
        appendNested(
          to: &text, axis: axis + 1, offset: offset + index * stride, format: format,
          summarize: summarize)
      }
    }
    text += "]"
  }
}

/// How every element of one tensor is written, chosen once from all of them, as PyTorch does.
private struct ElementFormat {
  private enum Style { case integer, fixed, scientific }
  private let style: Style
  private let width: Int

  init(_ scalars: [Float]) {
    let finite = scalars.filter { $0.isFinite }
    let magnitudes = finite.map { abs($0) }.filter { $0 > 0 }
    if finite.allSatisfy({ $0 == $0.rounded() }) && (magnitudes.max() ?? 0) < 1e8 {
      style = .integer
    } else if let largest = magnitudes.max(), let smallest = magnitudes.min(),
      largest >= 1e8 || smallest < 1e-4 || largest / smallest > 1e5
    {
      style = .scientific
    } else {
      style = .fixed
    }
    var width = 0
    for value in scalars { width = max(width, Self.plain(value, style).count) }
    self.width = width
  }

  func string(_ value: Float) -> String {
    let plain = Self.plain(value, style)
    return String(repeating: " ", count: max(0, width - plain.count)) + plain
  }

  private static func plain(_ value: Float, _ style: Style) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    switch style {
    case .integer: return String(format: "%.0f.", value)
    case .fixed: return String(format: "%.4f", value)
    case .scientific: return String(format: "%.4e", value)
    }
  }
}
