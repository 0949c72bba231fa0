import Foundation

/// A compiled lesson program.
public struct Executable: Sendable {
  /// Its path.
  public var path: String
  /// Whether it came from the cache rather than the compiler.
  public var wasCached: Bool
}

/// What turns a lesson's program into an executable: the toolchain, the build cache, and
/// the checks the compiler cannot make.
public struct Compiler: Sendable {
  /// The compiler and the libraries lesson programs link.
  public var toolchain: Toolchain
  /// Where compiled programs are kept, keyed by their source, the compiler and the
  /// libraries.
  public var cacheDirectory: String
  /// Run on a program before the compiler, unless it is in the cache.
  public var check: ProgramCheck?

  /// The compiler of `toolchain`, with its cache beside the libraries.
  public init(toolchain: Toolchain, cacheDirectory: String? = nil, check: ProgramCheck? = nil) {
    self.toolchain = toolchain
    self.cacheDirectory = cacheDirectory ?? toolchain.cacheDirectory
    self.check = check
  }

  /// Compiles `program` (or finds it in the cache), with `-Onone`: the heavy work runs in
  /// the optimised library. Before the compiler, `check` looks for what it cannot see.
  ///
  /// `willCompile` is called when the program is not in the cache, before anything else.
  ///
  /// - Throws: `BuildError` with every diagnostic, already pointing into the lesson.
  public func build(
    _ program: Program, useCache: Bool = true, willCompile: (() -> Void)? = nil
  ) throws -> Executable {
    let learnersCells = program.cells.filter(\.isLearnersCode)
    let library = toolchain.libraryDirectory
    let options =
      [
        "-swift-version", "5", "-Onone", "-diagnostic-style", "llvm", "-module-name", "Lesson",
        "-I", library + "/Modules",
      ] + nativeKernelModule(in: library)
      + ["-L", library, "-lLessonSupport", "-Xlinker", "-rpath", "-Xlinker", library]
      // Swift's check of unsafe code, for the learner's cells: its warnings elsewhere (the
      // teacher's cells) are dropped below.
      + (learnersCells.isEmpty ? [] : ["-strict-memory-safety"])
    // What compiles, and which cells are the learner's, decide the program: its key.
    let restricted = learnersCells.map { "\($0.file):\($0.position)" }.joined(separator: ",")
    let key = stableHash(
      [program.source, toolchain.fingerprint, restricted, options.joined(separator: " ")]
        .joined(separator: "\n"))
    let folder = cacheDirectory + "/" + key
    let executable = folder + "/lesson"
    if useCache && FileManager.default.isExecutableFile(atPath: executable) {
      return Executable(path: executable, wasCached: true)
    }
    willCompile?()
    // A program in the cache passed the check when it was compiled, and holds what the
    // check added: the key is the program's text before it, which decides what it adds.
    let review = check?(program) ?? ProgramReview()
    guard review.diagnostics.isEmpty else {
      throw BuildError(output: review.diagnostics.map(\.text).joined(separator: "\n"))
    }
    // Each process compiles from a folder of its own (two runs of one lesson at once must not
    // rewrite each other's source mid-compile), to a temporary name, then renames the binary
    // into the cache: a half-written binary never enters it.
    let workspace = folder + "/build-\(ProcessInfo.processInfo.processIdentifier)"
    try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    let sourcePath = workspace + "/main.swift"
    try program.inserting(review.insertions).source.write(
      toFile: sourcePath, atomically: true, encoding: .utf8)
    let partial = workspace + "/lesson"
    let result = try runTool(toolchain.swiftc, options + [sourcePath, "-o", partial])
    // In the lesson's lines, not the program's.
    let output = program.rewritingLines(in: result.output)
    guard result.status == 0 else { throw BuildError(output: output) }
    let unsafeCode = Self.unsafeCode(in: Diagnostic.parse(output), cells: learnersCells)
    guard unsafeCode.isEmpty else {
      throw BuildError(output: unsafeCode.map(\.text).joined(separator: "\n"))
    }
    _ = try? FileManager.default.removeItem(atPath: executable)
    try FileManager.default.moveItem(atPath: partial, toPath: executable)
    return Executable(path: executable, wasCached: false)
  }
}

extension Compiler {
  /// The strict-memory-safety warnings that fall in the learner's `cells`, as errors: unsafe
  /// code (pointers, `unsafeBitCast`, unchecked conversions) in an exercise is refused
  /// before it runs, with its line and Swift's reason.
  static func unsafeCode(in diagnostics: [Diagnostic], cells: [ProgramCell]) -> [Diagnostic] {
    diagnostics.filter { diagnostic in
      diagnostic.severity == .warning && diagnostic.message.hasSuffix("[#StrictMemorySafety]")
        && cells.contains { $0.file == diagnostic.file && $0.lines.contains(diagnostic.line) }
    }.map { warning in
      var error = warning
      error.severity = .error
      error.message =
        "unsafe code is not allowed in an exercise: "
        + warning.message.replacingOccurrences(of: " [#StrictMemorySafety]", with: "")
      return error
    }
  }
}

/// The compiler rejected the lesson.
public struct BuildError: Error, CustomStringConvertible, Sendable {
  /// The compiler's output as it printed it, excerpts and carets included, in
  /// `LESSON.md:LINE:COL` terms.
  public var output: String
  /// Its messages, parsed.
  public var diagnostics: [Diagnostic]

  /// The error for the compiler's `output`.
  public init(output: String) {
    self.output = output
    diagnostics = Diagnostic.parse(output)
  }

  /// The first error, for a one-line summary.
  public var firstError: Diagnostic? { diagnostics.first { $0.severity == .error } }

  /// The compiler's output.
  public var description: String { output }
}
