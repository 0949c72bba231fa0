import Foundation

/// Runs a PyTorch reference script from `shared/reference` and returns its output, or a
/// reason why it could not.
func runReference(python: String, script: String, arguments: [String]) -> Result<
  String, ReferenceError
> {
  guard FileManager.default.isExecutableFile(atPath: python) else {
    return .failure(ReferenceError("no Python at \(python)"))
  }
  guard FileManager.default.fileExists(atPath: script) else {
    return .failure(ReferenceError("no reference script at \(script)"))
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: python)
  process.arguments = [script] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  do {
    try process.run()
  } catch {
    return .failure(ReferenceError("could not start \(python): \(error)"))
  }
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    return .failure(ReferenceError("\(script) failed: \(output.suffix(500))"))
  }
  return .success(output)
}

/// Why a reference figure is missing.
struct ReferenceError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// The number after `label` in `text`, as in `median wall time of 100 steps: 68.2 ms`.
func number(after label: String, in text: String) -> Double? {
  guard let range = text.range(of: label) else { return nil }
  let rest = text[range.upperBound...].drop { $0 == " " }
  return Double(rest.prefix { $0.isNumber || $0 == "." })
}
