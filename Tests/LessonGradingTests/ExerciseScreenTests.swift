import Foundation
import LessonTestSupport
import Testing

@testable import LessonGrading
@testable import LessonKit
@testable import LessonSyntax

/// The screen that every exercise cell passes before grading reads code a student wrote,
/// so it must never trap and must judge only what it should.
@Suite("Screening exercise cells")
struct ExerciseScreenTests {
  @Test func namesTheLessonUsesAreProtectedAndHelpersAreNot() {
    let protected: Set = ["check", "numbers", "Tensor"]
    #expect(
      screenExercise(
        "func helper() -> Int { 1 }\nlet x = 2", protectedNames: protected, ownNames: []
      ).isEmpty)
    #expect(
      screenExercise("let numbers = [1]", protectedNames: protected, ownNames: [])
        .first?.contains("declares `numbers`") == true)
    // The key's own stub declares `double`: the student may too.
    #expect(
      screenExercise(
        "func double(_ x: Int) -> Int { x }", protectedNames: ["double"], ownNames: ["double"]
      ).isEmpty)
    // Local declarations shadow nothing outside their scope.
    #expect(
      screenExercise(
        "func f() { let check = 1; _ = check }", protectedNames: protected, ownNames: []
      ).isEmpty)
    // A type the cell declares may be extended; one it does not, may not.
    #expect(
      screenExercise(
        "struct Box {}\nextension Box { var size: Int { 1 } }", protectedNames: [], ownNames: []
      ).isEmpty)
    #expect(!screenExercise("extension Tensor {}", protectedNames: [], ownNames: []).isEmpty)
  }

  /// What silences Swift's check of unsafe code is refused; the word `unsafe` as a name is not.
  @Test func theMarksThatSilenceTheUnsafeCheckAreRefused() {
    for code in [
      "let p = unsafe UnsafeMutablePointer<Int>.allocate(capacity: 1)",
      "@unsafe func peek() -> Int { 0 }",
      "@safe func peek() -> Int { 0 }",
    ] {
      let problems = screenExercise(code, protectedNames: [], ownNames: [])
      #expect(problems.contains { $0.contains("silences Swift's check of unsafe code") }, "\(code)")
    }
    #expect(
      screenExercise("let unsafe = 1\nprint(unsafe)", protectedNames: [], ownNames: []).isEmpty)
  }

  @Test func everyPrefixOfEveryCourseCellIsJudgedWithoutATrap() throws {
    // Truncated code is what a half-finished exercise looks like: unbalanced braces,
    // strings and comments cut anywhere, attributes without names.
    let folder = Repository.lessons
    var cells = 0
    for name in Repository.lessonNames {
      let lesson = try Lesson(contentsOf: folder.appendingPathComponent(name).path)
      for cell in lesson.cells where cell.language == "swift" {
        let characters = Array(cell.source)
        for end in stride(from: 0, through: characters.count, by: 7) {
          let prefix = String(characters[..<end])
          _ = screenExercise(prefix, protectedNames: ["check"], ownNames: [])
          _ = CellNames(prefix)
        }
        cells += 1
      }
    }
    #expect(cells > 50)
    // And text that is not Swift at all, from a seeded generator, so a failure repeats.
    var generator = SplitMix64(seed: 42)
    for _ in 0..<300 {
      let length = Int(generator.next() % 200)
      let scalars = (0..<length).compactMap { _ in
        Unicode.Scalar(UInt32(generator.next() % 0x3000))
      }
      var text = ""
      text.unicodeScalars.append(contentsOf: scalars)
      _ = screenExercise(text, protectedNames: [], ownNames: [])
    }
  }
}
