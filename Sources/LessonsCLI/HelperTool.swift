import Foundation
import LessonKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A command that `lessons` hands to an executable of its own, so that what only it needs
/// is built only for it, the first time it is used: `grade` and `gradebook` (swift-syntax,
/// for the exercise screen), `serve` (the web server), and the check of cached blocks
/// (swift-syntax). `lessons run` on a lesson without cached blocks builds none of them.
public struct HelperTool: Sendable {
  /// The executable's product name: `lessons-grade`.
  public var name: String
  /// What it brings, for the notice: "the grader (swift-syntax)".
  public var purpose: String

  /// The grader: `grade` and `gradebook`.
  public static let grade = HelperTool(name: "lessons-grade", purpose: "the grader (swift-syntax)")
  /// The live page: `serve`.
  public static let serve = HelperTool(
    name: "lessons-serve", purpose: "the live page's web server (Hummingbird)")
  /// The check of cached blocks.
  public static let syntax = HelperTool(
    name: "lessons-syntax", purpose: "the check of cached blocks (swift-syntax)")

  /// The folder of the running `lessons` executable, where its helpers are built.
  static var folder: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
      .deletingLastPathComponent()
  }

  /// The helper's path, built first (with a one-line notice on standard error) when it is
  /// not there yet.
  ///
  /// - Throws: a `LessonError` when it cannot be built: no package beside the executable,
  ///   or the build failed (with the end of its log).
  public func located() throws -> String {
    let executable = Self.folder.appendingPathComponent(name).path
    if FileManager.default.isExecutableFile(atPath: executable) { return executable }
    try build()
    return executable
  }

  /// Replaces this process with the helper, run with `arguments`: its output, exit status
  /// and signals are the command's own.
  public func exec(_ arguments: [String]) throws -> Never {
    let path = try located()
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    execv(path, argv)
    throw LessonError(file: path, "could not be started (\(String(cString: strerror(errno))))")
  }

  /// Builds the helper into the folder of the running executable, with SwiftPM, from the
  /// package that folder belongs to (`PACKAGE/.build/TRIPLE/release`).
  private func build() throws {
    // The scratch folder is two levels up (`.build/x86_64-unknown-linux-gnu/release`), and
    // the package the folder that holds it.
    let configuration = Self.folder
    let scratch = configuration.deletingLastPathComponent().deletingLastPathComponent()
    let package = scratch.deletingLastPathComponent()
    guard
      FileManager.default.fileExists(atPath: package.appendingPathComponent("Package.swift").path)
    else {
      throw LessonError(
        file: name,
        "is not built next to \(CommandLine.arguments[0]), and no package is there to build it "
          + "from; build it with `swift build -c release --product \(name)`")
    }
    printError(
      "lessons: building \(purpose), first use only (log: "
        + "\(scratch.path)/\(name)-build.log)")
    let log = scratch.appendingPathComponent("\(name)-build.log")
    let started = Date()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "swift", "build", "-c", configuration.lastPathComponent, "--package-path", package.path,
      "--scratch-path", scratch.path, "--product", name,
    ]
    FileManager.default.createFile(atPath: log.path, contents: nil)
    let output = try FileHandle(forWritingTo: log)
    defer { try? output.close() }
    process.standardOutput = output
    process.standardError = output
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let tail = ((try? String(contentsOf: log, encoding: .utf8)) ?? "")
        .split(separator: "\n").suffix(15).joined(separator: "\n")
      throw LessonError(file: name, "could not be built:\n\(tail)")
    }
    printError(
      String(format: "lessons: built %@ in %.0f s", name, Date().timeIntervalSince(started)))
  }
}
