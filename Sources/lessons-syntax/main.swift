// `lessons-syntax`: the check of cached blocks, for the `lessons` command, which builds this
// helper the first time a lesson has a `cached` block (swift-syntax is built only then).
// Reads a program's cells as JSON on standard input; writes its review (diagnostics and
// insertions) as JSON.
import Foundation
import LessonKit
import LessonSyntax

let input = FileHandle.standardInput.readDataToEndOfFile()
do {
  let cells = try JSONDecoder().decode([ProgramCell].self, from: input)
  let review = cachedBlockReview(Program(cells: cells))
  FileHandle.standardOutput.write(try JSONEncoder().encode(review))
} catch {
  FileHandle.standardError.write(Data("lessons-syntax: error: unreadable input: \(error)\n".utf8))
  exit(2)
}
