import ArgumentParser
import Foundation
import LessonGrading
import LessonKit
import LessonsCLI

/// `lessons gradebook merge DIR`: one gradebook from the shards that `grade --shard` wrote.
struct Gradebook: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Work with gradebooks.", subcommands: [Merge.self])

  /// Joins `gradebook.I-of-N.json` files into `gradebook.csv` and `gradebook.json`.
  struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Join the gradebooks of every shard of a class into one.",
      discussion: """
        Reads DIR/gradebook.I-of-N.json for I = 1 ... N, which `lessons grade DIR --shard I/N`
        wrote (on this machine or, with DIR copied back, on others), and writes
        DIR/gradebook.csv and DIR/gradebook.json, sorted by submission. A missing shard,
        shards of different N, or a submission graded twice stops the merge (exit 2).
        """)

    @Argument(help: "The folder of submissions the shards were graded from.")
    var directory: String

    func run() throws {
      do {
        let reports = try mergedShards(in: directory)
        try writeGradebook(reports, folder: directory, name: "gradebook")
        print("wrote \(directory)/gradebook.csv and gradebook.json: \(reports.count) submissions")
      } catch {
        printError("\(error)")
        throw ExitCode(LessonExit.couldNotRun.rawValue)
      }
    }
  }
}

/// The reports of every shard's gradebook in `folder`, checked to be one whole class.
func mergedShards(in folder: String) throws -> [GradeReport] {
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory),
    isDirectory.boolValue
  else { throw LessonError(file: folder, "no such folder") }
  let names = try FileManager.default.contentsOfDirectory(atPath: folder)
  var shards: [Int: String] = [:]
  var counts = Set<Int>()
  for name in names where name.hasPrefix("gradebook.") && name.hasSuffix(".json") {
    let middle = name.dropFirst("gradebook.".count).dropLast(".json".count)
    let parts = middle.split(separator: "-of-")
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else { continue }
    shards[index] = name
    counts.insert(count)
  }
  guard let count = counts.first else {
    throw LessonError(file: folder, "has no gradebook.I-of-N.json; grade it with --shard I/N")
  }
  guard counts.count == 1 else {
    throw LessonError(
      file: folder, "holds shards of different counts (\(counts.sorted())); remove the old ones")
  }
  var reports: [GradeReport] = []
  for index in 1...count {
    guard let name = shards[index] else {
      throw LessonError(
        file: folder,
        "shard \(index) of \(count) is missing (no gradebook.\(index)-of-\(count).json)")
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
    do {
      reports += try JSONDecoder().decode([GradeReport].self, from: data)
    } catch {
      throw LessonError(file: folder + "/" + name, "is not a gradebook: \(error)")
    }
  }
  var seen = Set<String>()
  for report in reports where !seen.insert(report.lesson).inserted {
    throw LessonError(file: folder, "\(report.lesson) was graded in two shards")
  }
  return reports.sorted { $0.lesson < $1.lesson }
}
