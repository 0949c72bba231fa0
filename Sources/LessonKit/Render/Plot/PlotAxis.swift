import Foundation

/// One axis of a chart: the range it shows, in the scale's coordinates, and its ticks.
///
/// Built from the data alone, so the terminal chart and the SVG agree. A log axis keeps only
/// positive values; any value that cannot be drawn (NaN, infinite, or non-positive on a log
/// axis) is dropped rather than trapping the renderer.
struct PlotAxis: Equatable {
  var scale: PlotScale
  /// The first and last tick, in scale coordinates (log10 of the value on a log axis).
  var low: Double
  var high: Double
  /// The tick values, in data units.
  var ticks: [Double]

  /// An axis covering `values` with about `targetTicks` round ticks.
  init(_ values: [Double], scale: PlotScale, targetTicks: Int = 5) {
    self.scale = scale
    let coordinates = values.compactMap { PlotAxis.coordinate($0, scale) }
    switch scale {
    case .linear:
      ticks = niceTicks(coordinates, target: targetTicks)
      (low, high) = (ticks.first!, ticks.last!)
    case .log:
      var first = (coordinates.min() ?? 0).rounded(.down)
      var last = (coordinates.max() ?? 1).rounded(.up)
      if first == last { last += 1 }
      // Every decade when they fit, else every second or third.
      let every = max(1, Int(((last - first) / Double(max(targetTicks, 2))).rounded(.up)))
      first = (first / Double(every)).rounded(.down) * Double(every)
      last = max(first + Double(every), (last / Double(every)).rounded(.up) * Double(every))
      (low, high) = (first, last)
      ticks = stride(from: first, through: last, by: Double(every)).map { pow(10, $0) }
    }
  }

  /// Where `value` lies in the scale's coordinates, or `nil` when it cannot be drawn.
  static func coordinate(_ value: Double, _ scale: PlotScale) -> Double? {
    switch scale {
    case .linear: return value.isFinite ? value : nil
    case .log: return value.isFinite && value > 0 ? log10(value) : nil
    }
  }

  /// Where `value` falls between the ends, from 0 (`low`) to 1 (`high`); `nil` when it
  /// cannot be drawn.
  func fraction(_ value: Double) -> Double? {
    guard let coordinate = PlotAxis.coordinate(value, scale) else { return nil }
    let fraction = (coordinate - low) / (high - low)
    return fraction.isFinite ? fraction : nil
  }

  /// A tick's label: short, and `0` for values that are zero but for rounding.
  func label(_ value: Double) -> String {
    abs(value) < 1e-12 * max(abs(low), abs(high), 1) && scale == .linear
      ? "0" : String(format: "%g", value)
  }
}

/// About `target` evenly spaced round values (steps of 1, 2, 2.5 or 5 times a power of ten)
/// covering `values`. Values too extreme to space evenly get their two ends.
func niceTicks(_ values: [Double], target: Int = 5) -> [Double] {
  guard var low = values.min(), var high = values.max() else { return [0, 1] }
  if low == high {
    (low, high) = (low - max(1, abs(low) / 10), high + max(1, abs(high) / 10))
  }
  let rough = (high - low) / Double(max(target, 1))
  let magnitude = pow(10, (log10(rough)).rounded(.down))
  let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
  let first = (low / step).rounded(.down) * step
  let last = (high / step).rounded(.up) * step
  // A range near the limits of Double, or a step lost in rounding, has no round ticks.
  guard step.isNormal, first.isFinite, last.isFinite, (last - first) / step < 100,
    first + step > first
  else { return low < high && (high - low).isFinite ? [low, high] : [-1, 1] }
  return stride(from: first, through: last + step / 2, by: step).map { $0 }
}
