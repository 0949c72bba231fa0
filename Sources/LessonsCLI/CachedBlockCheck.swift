import Foundation
import LessonKit

/// The check of cached blocks (`cachedBlockReview`, which reads the cells with
/// swift-syntax) as the runner's commands make it: by the `lessons-syntax` helper, built
/// the first time a lesson has a `cached` block, so that a lesson without one never waits
/// for swift-syntax to build.
public let cachedBlockCheck: ProgramCheck = { program in
  guard program.cells.contains(where: { $0.source.contains("cached") }) else {
    return ProgramReview()
  }
  do {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try HelperTool.syntax.located())
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // The helper reads every cell before it answers, so the cells go in first.
    input.fileHandleForWriting.write(try JSONEncoder().encode(program.cells))
    try input.fileHandleForWriting.close()
    let answer = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw LessonError(
        file: HelperTool.syntax.name, "stopped with status \(process.terminationStatus)")
    }
    return try JSONDecoder().decode(ProgramReview.self, from: answer)
  } catch {
    let file = program.cells.first?.file ?? "lessons"
    return ProgramReview(diagnostics: [
      Diagnostic(
        file: file, line: program.cells.first?.line ?? 1, column: 1, severity: .error,
        message: "the check of cached blocks could not run: \(error)")
    ])
  }
}
