import ArgumentParser
import Foundation
import LessonKit

/// The `lessons` command: run Markdown lessons as Swift programs.
@main
struct Lessons: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run Markdown lessons on LoRA: their swift cells compile into one program.",
    subcommands: [Run.self, Export.self, Grade.self, List.self])
}

/// A lesson path, trying `Lessons/NAME` when `NAME` itself does not exist.
func resolveLesson(_ name: String) -> String {
  if FileManager.default.fileExists(atPath: name) { return name }
  let inLessons = "Lessons/" + name
  return FileManager.default.fileExists(atPath: inLessons) ? inLessons : name
}

/// Prints to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}
