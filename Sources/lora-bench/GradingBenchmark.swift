import Foundation

/// Grading a class: `lessons grade DIR --key 02-lora-from-scratch.md` on `size` submissions
/// made from the hand-out, a quarter each solved, unsolved, solved but crashing in the first
/// exercise (a second run, with the key's solution in its place), and solved with the second
/// exercise wrong. Every grading run compiles its program afresh (its cell markers carry
/// tokens drawn for it), so this is the whole cost: compile, sandbox, run, report. One row
/// in the sandbox and one without, with `--jobs` at the number of cores.
func benchmarkGrading(size: Int) -> MarkdownTable {
  var table = MarkdownTable(
    "grade \(size) submissions of lesson 02", "seconds", "submissions per minute",
    "seconds per submission and core")
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("lessons").path
  let key = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Lessons/02-lora-from-scratch.md").path
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "grading-bench-\(UUID())")
  defer { try? FileManager.default.removeItem(at: folder) }
  let cores = ProcessInfo.processInfo.activeProcessorCount
  do {
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("class"), withIntermediateDirectories: true)
    let handOut = folder.appendingPathComponent("hand-out.md").path
    guard case .success = runProcess(executable, ["export", key, "--student", "-o", handOut])
    else { throw ReferenceError("could not export the hand-out of \(key)") }
    let student = try String(contentsOfFile: handOut, encoding: .utf8)
    let solved = try solvedVersion(of: student, key: String(contentsOfFile: key, encoding: .utf8))
    for index in 0..<size {
      var text: String
      switch index % 4 {
      case 0: text = solved.text
      case 1: text = student
      case 2:
        text = solved.text.replacingOccurrences(
          of: solved.solutions[0], with: solved.solutions[0] + "fatalError(\"broken\")\n")
      default:
        text = solved.text.replacingOccurrences(
          of: solved.solutions[1], with: solved.stubs[1])
      }
      // A comment of its own, as no two students' files are the same.
      text += "\n<!-- student \(index) -->\n"
      try text.write(
        to: folder.appendingPathComponent("class/student-\(index).md"), atomically: true,
        encoding: .utf8)
    }
  } catch {
    print("grading benchmark skipped: \(error)")
    return table
  }
  for (label, extra) in [("in the sandbox", [String]()), ("--no-sandbox", ["--no-sandbox"])] {
    let clock = ContinuousClock()
    var failure: String?
    let elapsed = clock.measure {
      if case .failure(let error) = runProcess(
        executable,
        ["grade", folder.appendingPathComponent("class").path, "--key", key, "--jobs", "\(cores)"]
          + extra)
      {
        failure = error.description
      }
    }
    if let failure {
      table.add(label, "failed: \(failure.prefix(200))", "", "")
      continue
    }
    let seconds = elapsed.seconds
    table.add(
      "\(label), --jobs \(cores)", fixed(seconds, 1), fixed(Double(size) / seconds * 60, 0),
      fixed(seconds * Double(cores) / Double(size), 2))
  }
  return table
}

/// The hand-out with the key's solutions typed in, and the solutions and stubs in exercise
/// order.
private func solvedVersion(of student: String, key: String) throws -> (
  text: String, solutions: [String], stubs: [String]
) {
  // Cells between "```swift exercise id=ID" / "```swift solution for=ID" and the next fence.
  func bodies(_ text: String, _ marker: String) -> [String] {
    text.components(separatedBy: "```swift \(marker)").dropFirst().map { part in
      let body = part.drop { $0 != "\n" }.dropFirst()
      return String(body[..<(body.range(of: "```")?.lowerBound ?? body.endIndex)])
    }
  }
  let stubs = bodies(student, "exercise")
  let solutions = bodies(key, "solution")
  guard stubs.count >= 2, stubs.count == solutions.count else {
    throw ReferenceError("the lesson needs two exercises, each with a solution")
  }
  var text = student
  for (stub, solution) in zip(stubs, solutions) {
    text = text.replacingOccurrences(of: stub, with: solution)
  }
  return (text, solutions, stubs)
}
