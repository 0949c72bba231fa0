import Foundation

/// Runs `program` with `arguments` and returns what it printed (on standard error too, unless
/// `withStandardError` is false), or why it could not.
func runProcess(
  _ program: String, _ arguments: [String], withStandardError: Bool = true
) -> Result<String, ReferenceError> {
  guard FileManager.default.isExecutableFile(atPath: program) else {
    return .failure(ReferenceError("no executable at \(program)"))
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: program)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  // Without it, what the program says on standard error goes to ours, so that the output is
  // only its standard output (a JSON document, say).
  process.standardError = withStandardError ? pipe : FileHandle.standardError
  do {
    try process.run()
  } catch {
    return .failure(ReferenceError("could not start \(program): \(error)"))
  }
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    return .failure(ReferenceError("failed: \(output.suffix(500))"))
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
