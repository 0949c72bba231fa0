import Foundation

/// A learner's workbook: the students' versions of a course's lessons in a folder of their
/// own, beside the course's data and models, and a small file of progress
/// (`.lessons-workbook.json`) that says where the course's keys are and which exercises are
/// solved. `lessons start` makes one; `check`, `watch` and `progress` read and update it.
public struct Workbook: Codable, Equatable, Sendable {
  /// The progress file's name, in the workbook's folder.
  public static let fileName = ".lessons-workbook.json"

  /// The course's folder, where the keys are (an absolute path).
  public var course: String
  /// Per lesson file name.
  public var lessons: [String: LessonProgress] = [:]

  /// One lesson of the workbook.
  public struct LessonProgress: Codable, Equatable, Sendable {
    /// A hash of the student version as it was written, to tell the learner's edits apart.
    public var released: String
    /// Per exercise id.
    public var exercises: [String: ExerciseProgress] = [:]

    /// A lesson released as the text whose hash is `released`, no exercise tried yet.
    public init(released: String) {
      self.released = released
    }
  }

  /// One exercise's progress.
  public struct ExerciseProgress: Codable, Equatable, Sendable {
    /// Whether its last check passed every check, for all its points.
    public var solved = false
    /// Checks of it that failed, over every check so far: `lessons solution` waits for one.
    public var failedChecks = 0

    /// Not tried yet.
    public init() {}
  }

  /// A new workbook of the course at `course`.
  public init(course: String) {
    self.course = course
  }

  /// The workbook whose folder is `directory` or holds it, with that folder; `nil` outside
  /// any workbook.
  ///
  /// - Throws: `LessonError` when the progress file is there but cannot be read.
  public static func find(from directory: String) throws -> (folder: String, workbook: Workbook)? {
    var folder = URL(fileURLWithPath: directory).standardizedFileURL
    while true {
      let file = folder.appendingPathComponent(fileName)
      if FileManager.default.fileExists(atPath: file.path) {
        return (folder.path, try load(file.path))
      }
      let parent = folder.deletingLastPathComponent()
      if parent.path == folder.path { return nil }
      folder = parent
    }
  }

  /// Reads the progress file at `path`.
  public static func load(_ path: String) throws -> Workbook {
    do {
      return try JSONDecoder().decode(
        Workbook.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      throw LessonError(
        file: path,
        "the workbook's progress file cannot be read (\(error.localizedDescription)); "
          + "`lessons start --update` in its folder writes it again")
    }
  }

  /// Writes the progress file into `folder`, atomically.
  public func save(in folder: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(
      to: URL(fileURLWithPath: folder).appendingPathComponent(Self.fileName), options: .atomic)
  }

  /// The course's key of lesson `name`.
  public func key(of name: String) -> String {
    URL(fileURLWithPath: course).appendingPathComponent(name).path
  }

  /// Records a check of lesson `name`: per exercise, whether it earned all its points and
  /// how many of its checks failed.
  public mutating func record(
    lesson name: String, _ results: [(id: String, solved: Bool, failedChecks: Int)]
  ) {
    for result in results {
      var progress = lessons[name, default: LessonProgress(released: "")].exercises[
        result.id, default: ExerciseProgress()]
      progress.solved = result.solved
      progress.failedChecks += result.failedChecks
      lessons[name, default: LessonProgress(released: "")].exercises[result.id] = progress
    }
  }

  /// Records a plain run of lesson `lesson` (by `watch` or `serve`): an exercise whose check
  /// cells all ran with every check passing counts as solved; one with a failed check, not.
  public mutating func record(run result: RunResult, of lesson: Lesson) {
    let name = URL(fileURLWithPath: lesson.path).lastPathComponent
    var byExercise: [String: (ran: Bool, failed: Int)] = [:]
    for cell in lesson.cells {
      guard case .check(let id, _) = cell.role else { continue }
      let output = result.cells.first { $0.cell == cell.index }
      let ran = output != nil && result.completed(cell.index)
      let failed = output?.checks.filter { !$0.passed }.count ?? 0
      let before = byExercise[id] ?? (true, 0)
      byExercise[id] = (before.ran && ran, before.failed + failed)
    }
    record(
      lesson: name,
      byExercise.map {
        (id: $0.key, solved: $0.value.ran && $0.value.failed == 0, failedChecks: $0.value.failed)
      })
  }
}

/// Where a learner stands in a workbook: every exercise of the course's lessons in order,
/// solved or not, and the next one to do.
public struct WorkbookStanding: Sendable {
  /// One exercise, where it stands in the learner's file.
  public struct Exercise: Sendable {
    /// The lesson's file name.
    public var lesson: String
    /// Its id.
    public var id: String
    /// Its line in the learner's file (its fence), or the key's when the learner's file
    /// lacks it.
    public var line: Int
    /// Whether it is solved.
    public var solved: Bool
  }

  /// Every exercise, lesson by lesson in name order, each lesson's in document order.
  public var exercises: [Exercise]

  /// The exercises of `workbook`, read from the learner's files in `folder` (the course's
  /// keys for the list, so that an exercise the learner deleted still counts).
  public init(workbook: Workbook, folder: String) {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: workbook.course)) ?? [])
      .filter { $0.hasSuffix(".md") }.sorted()
    exercises = names.flatMap { name -> [Exercise] in
      guard let key = try? Lesson(contentsOf: workbook.key(of: name), checkingReferences: false)
      else { return [] }
      let learners = try? Lesson(
        contentsOf: URL(fileURLWithPath: folder).appendingPathComponent(name).path,
        checkingReferences: false)
      return key.cells.compactMap { cell -> Exercise? in
        guard case .exercise(let id, _) = cell.role else { return nil }
        let own = learners?.cells.first { $0.role.exerciseID == id }
        return Exercise(
          lesson: name, id: id, line: own?.fenceLine ?? cell.fenceLine,
          solved: workbook.lessons[name]?.exercises[id]?.solved ?? false)
      }
    }
  }

  /// The first exercise not solved yet, in course order.
  public var next: Exercise? { exercises.first { !$0.solved } }

  /// "4/11 exercises ███████░░░░░░░░░░░░░ 36%".
  public var summary: String {
    let solved = exercises.filter(\.solved).count
    let total = max(exercises.count, 1)
    let filled = solved * 20 / total
    return "\(solved)/\(exercises.count) exercises "
      + String(repeating: "█", count: filled) + String(repeating: "░", count: 20 - filled)
      + " \(solved * 100 / total)%"
  }

  /// "Next: 01-why-lora.md:42, exercise `count`", or a word of congratulation.
  public var nextLine: String {
    guard let next else { return "Every exercise is solved. Well done." }
    return "Next: \(next.lesson):\(next.line), exercise `\(next.id)`"
  }
}
