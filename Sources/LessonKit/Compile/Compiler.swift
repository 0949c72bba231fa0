import Foundation

/// A compiled lesson program.
public struct Executable: Sendable {
  /// Its path.
  public var path: String
  /// Whether it came from the cache rather than the compiler.
  public var wasCached: Bool
}

/// A check of a program that the compiler does not make, run before it: each problem is a
/// diagnostic at its `LESSON.md:LINE:COL`. The runner's is `cachedBlockDiagnostics`
/// (LessonSyntax), which reads the cells with swift-syntax.
public typealias ProgramCheck = @Sendable (Program) -> [Diagnostic]

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
    let key = stableHash(program.source + "\n" + toolchain.fingerprint)
    let folder = cacheDirectory + "/" + key
    let executable = folder + "/lesson"
    if useCache && FileManager.default.isExecutableFile(atPath: executable) {
      return Executable(path: executable, wasCached: true)
    }
    willCompile?()
    // A program in the cache passed the check when it was compiled.
    let problems = check?(program) ?? []
    guard problems.isEmpty else {
      throw BuildError(output: problems.map(\.text).joined(separator: "\n"))
    }
    // Each process compiles from a folder of its own (two runs of one lesson at once must not
    // rewrite each other's source mid-compile), to a temporary name, then renames the binary
    // into the cache: a half-written binary never enters it.
    let workspace = folder + "/build-\(ProcessInfo.processInfo.processIdentifier)"
    try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    let sourcePath = workspace + "/main.swift"
    try program.source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
    let library = toolchain.libraryDirectory
    let partial = workspace + "/lesson"
    let arguments =
      [
        "-swift-version", "5", "-Onone", "-diagnostic-style", "llvm", "-module-name", "Lesson",
        "-I", library + "/Modules",
      ] + nativeKernelModule(in: library)
      + [
        "-L", library, "-lLessonSupport", "-Xlinker", "-rpath", "-Xlinker", library,
        sourcePath, "-o", partial,
      ]
    let result = try runTool(toolchain.swiftc, arguments)
    guard result.status == 0 else { throw BuildError(output: result.output) }
    _ = try? FileManager.default.removeItem(atPath: executable)
    try FileManager.default.moveItem(atPath: partial, toPath: executable)
    return Executable(path: executable, wasCached: false)
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
