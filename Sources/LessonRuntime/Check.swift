import LessonEvents
import LoRA

/// Records whether `condition` holds, with `message`, for the lesson's report and grading.
///
/// A check never stops the lesson: a failed one is reported and the next cell still runs.
///
/// ```swift
/// check(loss < 0.01, "the loss fell below 0.01")
/// check(loraB.sum().item() == 0, "B starts at zero", hint: "initialise B with zeros, A at random")
/// ```
///
/// Every check can carry a `hint`: what to try, shown only when the check fails.
///
/// A plain condition is the weak kind of check for grading: the grader can only believe the
/// program's word for it. `checkEqual` and `checkClose` are the strong kind: they also
/// report the values compared, which the grader checks against the key's own run.
@discardableResult
public func check(
  _ condition: Bool, _ message: String, hint: String? = nil, line: Int = #line
) -> Bool {
  record(passed: condition, message: message, detail: nil, hint: hint, line: line)
}

/// Records whether `actual == expected`.
@discardableResult
public func checkEqual<T: Equatable>(
  _ actual: T, _ expected: T, _ message: String, hint: String? = nil, line: Int = #line
) -> Bool {
  record(
    passed: actual == expected, message: message,
    detail: actual == expected ? nil : "got \(actual), expected \(expected)", hint: hint,
    line: line,
    values: CheckValues(actual: .text("\(actual)"), expected: .text("\(expected)")))
}

/// Records whether `actual` is within `tolerance` of `expected` (absolute, or relative to
/// `expected` when that is larger than 1).
@discardableResult
public func checkClose(
  _ actual: Float, _ expected: Float, tolerance: Float = 1e-5, _ message: String,
  hint: String? = nil, line: Int = #line
) -> Bool {
  let passed = abs(actual - expected) <= tolerance * max(1, abs(expected))
  return record(
    passed: passed, message: message,
    detail: passed ? nil : "got \(actual), expected \(expected) ± \(tolerance)", hint: hint,
    line: line,
    values: CheckValues(
      actual: .numbers([Double(actual)]), expected: .numbers([Double(expected)]),
      tolerance: Double(tolerance)))
}

/// Records whether two tensors have the same shape and every pair of elements is within
/// `tolerance` (absolute, or relative where the expected element is larger than 1).
@discardableResult
public func checkClose(
  _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-5, _ message: String,
  hint: String? = nil, line: Int = #line
) -> Bool {
  guard actual.shape == expected.shape else {
    return record(
      passed: false, message: message,
      detail: "shape \(actual.shape), expected \(expected.shape)", hint: hint, line: line)
  }
  var worst: (index: Int, error: Float)?
  for (index, (a, e)) in zip(actual.scalars, expected.scalars).enumerated() {
    let error = abs(a - e) / max(1, abs(e))
    if error > tolerance, error > (worst?.error ?? 0) || error.isNaN { worst = (index, error) }
  }
  let detail = worst.map {
    "element \($0.index): got \(actual.scalars[$0.index]), expected \(expected.scalars[$0.index])"
  }
  // The values, for the grader to compare with the key's run; a huge tensor is sent as a
  // sample of 4,096 evenly spaced elements.
  let step = max(1, actual.count / 4096)
  let sample = { (tensor: Tensor) in
    stride(from: 0, to: tensor.count, by: step).map { Double(tensor.scalars[$0]) }
  }
  return record(
    passed: worst == nil, message: message, detail: detail, hint: hint, line: line,
    values: CheckValues(
      actual: .numbers(sample(actual)), expected: .numbers(sample(expected)),
      tolerance: Double(tolerance)))
}

/// Sends a check to the runner, or prints it when the program runs on its own.
private func record(
  passed: Bool, message: String, detail: String?, hint: String?, line: Int,
  values: CheckValues? = nil
) -> Bool {
  // A hint is for a check that failed.
  let hint = passed ? nil : hint
  if Channel.isConnected {
    Channel.send(
      .check(
        Check(
          passed: passed, message: message, detail: detail, hint: hint, line: line,
          values: values)))
  } else {
    print(
      "\(passed ? "✓" : "✗") \(message)" + (detail.map { " (\($0))" } ?? "")
        + (hint.map { "\n  hint: \($0)" } ?? ""))
  }
  return passed
}
