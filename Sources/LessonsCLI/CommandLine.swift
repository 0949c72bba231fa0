import ArgumentParser
import Foundation
import LessonKit

extension ParsableCommand {
  /// Runs the command line, with bad arguments exiting 2 (could not run) as the exit-code
  /// contract says, rather than ArgumentParser's 64.
  public static func mainWithLessonExitCodes() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == .validationFailure {
        printError(fullMessage(for: error))
        Foundation.exit(LessonExit.couldNotRun.rawValue)
      }
      exit(withError: error)
    }
  }
}

/// A lesson path, trying `Lessons/NAME` when `NAME` itself does not exist.
public func resolveLesson(_ name: String) -> String {
  let exists = FileManager.default.fileExists(atPath:)
  // A bare name is also looked for in the course: Lessons/ here, or the package's.
  let inCourse = ["Lessons/" + name] + (defaultCourseFolder().map { [$0 + "/" + name] } ?? [])
  let path = exists(name) ? name : inCourse.first(where: exists) ?? name
  // A symlinked lesson is the file it points to: it runs in that file's folder, where its
  // models/ and data/ are, and --write updates that file instead of replacing the link.
  let attributes = try? FileManager.default.attributesOfItem(atPath: path)
  if attributes?[.type] as? FileAttributeType == .typeSymbolicLink {
    return URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  }
  return path
}

/// Prints to standard error.
public func printError(_ text: String) {
  FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Why `path` cannot be written atomically (a temporary file beside it, then a rename), in
/// words, or `nil` when it can; checked before a lesson runs, so that a bad `-o` costs no run.
public func unwritableDestination(_ path: String) -> String? {
  // The folder as the user spelled it ("missing", not an absolute path).
  // (NSString's deletingLastPathComponent traps on "." with Linux's Foundation.)
  let folder =
    path.lastIndex(of: "/").map { slash in
      slash == path.startIndex ? "/" : String(path[..<slash])
    } ?? "."
  var isDirectory: ObjCBool = false
  if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
  {
    return "\(path): error: is a folder; name a file to write"
  }
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
    return "\(path): error: cannot be written: the folder \(folder) does not exist"
  }
  guard isDirectory.boolValue else {
    return "\(path): error: cannot be written: \(folder) is not a folder"
  }
  guard access(folder, W_OK) == 0 else {
    return "\(path): error: cannot be written: the folder \(folder) is not writable"
  }
  return nil
}
