import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI

/// `lessons list [DIR]`: the lessons in a folder, with their titles and cell counts.
struct List: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the lessons in a folder with their titles, cells and exercises.")

  @Argument(help: "The folder (default: Lessons).") var directory = "Lessons"

  func run() throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      printError("\(directory): error: no such folder")
      throw ExitCode(LessonExit.couldNotRun.rawValue)
    }
    let files = try FileManager.default.contentsOfDirectory(atPath: directory)
      .filter { $0.hasSuffix(".md") && $0.uppercased() != "README.MD" }.sorted()
    var rows: [[String]] = []
    for file in files {
      let path = directory + "/" + file
      do {
        let lesson = try Lesson(contentsOf: path)
        let exercises = lesson.cells.filter {
          if case .exercise = $0.role { return true } else { return false }
        }
        rows.append([
          file, lesson.title ?? "", "\(lesson.executableCells.count)", "\(exercises.count)",
        ])
      } catch {
        rows.append([file, "(cannot be read: \(error))", "", ""])
      }
    }
    print(
      alignedTable(headers: ["lesson", "title", "cells", "exercises"], rows: rows), terminator: "")
  }
}
