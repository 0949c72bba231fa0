import Foundation

/// Runs the `lessons` executable built beside this test bundle.
public func lessons(
  _ arguments: [String], in folder: URL, environment extra: [String: String] = [:]
)
  throws -> (
    status: Int32, stdout: String, stderr: String
  )
{
  let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  let executable = buildFolder.appendingPathComponent("lessons")
  guard FileManager.default.isExecutableFile(atPath: executable.path) else {
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: executable.path])
  }
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.currentDirectoryURL = folder
  var environment = ProcessInfo.processInfo.environment
  environment["NO_COLOR"] = "1"
  environment.merge(extra) { _, new in new }
  process.environment = environment
  let out = Pipe()
  // Standard error goes to a file, so that neither stream can fill up and block the child.
  let errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID())")
  _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
  defer { try? FileManager.default.removeItem(at: errorURL) }
  process.standardOutput = out
  process.standardError = try FileHandle(forWritingTo: errorURL)
  try process.run()
  let outputData = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (
    process.terminationStatus, String(decoding: outputData, as: UTF8.self),
    (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
  )
}
