import Foundation

/// What compiling a lesson needs: the compiler and the runtime libraries of this build.
public struct Toolchain: Sendable {
  /// The Swift compiler.
  public var swiftc: String
  /// The folder with `libLessonSupport` (LoRA and LessonRuntime) and `Modules/`.
  public var libraryDirectory: String

  /// Finds `swiftc` (the `SWIFTC` variable, then `PATH`) and the libraries built beside the
  /// running `lessons` executable.
  ///
  /// - Throws: a `LessonError` that says how to build what is missing.
  public static func locate(executable: String = CommandLine.arguments[0]) throws -> Toolchain {
    let directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
      .deletingLastPathComponent().path
    let modules = directory + "/Modules"
    for module in ["LoRA", "LessonRuntime"] {
      guard FileManager.default.fileExists(atPath: directory + "/" + supportLibraryName),
        FileManager.default.fileExists(atPath: modules + "/\(module).swiftmodule")
      else {
        throw LessonError(
          file: "lessons",
          "the \(module) library is not built next to \(executable); build every product "
            + "with `swift build -c release` (or run Scripts/lessons)")
      }
    }
    let environment = ProcessInfo.processInfo.environment
    let candidates =
      [environment["SWIFTC"]].compactMap { $0 }
      + (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/swiftc" }
    guard let swiftc = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
      throw LessonError(
        file: "lessons",
        "no Swift compiler found: put swiftc on PATH or name it in the SWIFTC variable")
    }
    return Toolchain(swiftc: swiftc, libraryDirectory: directory)
  }

  /// The build cache beside the libraries: compiled lessons, the key runs and the
  /// grader's secret.
  public var cacheDirectory: String { libraryDirectory + "/lesson-cache" }

  /// What identifies this compiler and these libraries, for the build cache.
  public var fingerprint: String {
    let files = [
      swiftc, libraryDirectory + "/" + supportLibraryName,
      libraryDirectory + "/Modules/LoRA.swiftmodule",
      libraryDirectory + "/Modules/LessonRuntime.swiftmodule",
    ]
    return files.map { path in
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
      let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
      let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
      return "\(path):\(size):\(date)"
    }.joined(separator: "\n")
  }
}

/// The file name of the shared library that lesson programs link (LoRA and LessonRuntime
/// together) on this platform.
let supportLibraryName: String = {
  #if os(macOS)
    return "libLessonSupport.dylib"
  #else
    return "libLessonSupport.so"
  #endif
}()

/// A compiled lesson program.
public struct Executable: Sendable {
  /// Its path.
  public var path: String
  /// Whether it came from the cache rather than the compiler.
  public var wasCached: Bool
}

/// Compiles `program` (or finds it in the cache, keyed by its source, the compiler and the
/// libraries), with `-Onone`: the heavy work runs in the optimised library. Before the
/// compiler, `cachedBlockDiagnostics` checks what it cannot.
///
/// - Throws: `BuildError` with every compiler diagnostic, already pointing into the lesson.
public func build(
  _ program: Program, toolchain: Toolchain, cacheDirectory: String, useCache: Bool = true
) throws -> Executable {
  let key = stableHash(program.source + "\n" + toolchain.fingerprint)
  let folder = cacheDirectory + "/" + key
  let executable = folder + "/lesson"
  if useCache && FileManager.default.isExecutableFile(atPath: executable) {
    return Executable(path: executable, wasCached: true)
  }
  // What the compiler cannot see: a cached block using a var from outside it. A program in
  // the cache passed this check when it was compiled.
  let misused = cachedBlockDiagnostics(program)
  guard misused.isEmpty else {
    throw BuildError(output: misused.map(\.text).joined(separator: "\n"))
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

/// The module map SwiftPM writes for `CKernels`, the library's C loops: `LoRA` imports it
/// for its implementation only, but a module built with `-enable-testing` (as the tests
/// build it) still asks its clients to load it.
private func nativeKernelModule(in library: String) -> [String] {
  let map = library + "/CKernels.build/module.modulemap"
  guard FileManager.default.fileExists(atPath: map) else { return [] }
  return ["-Xcc", "-fmodule-map-file=" + map]
}

/// Runs a tool to completion and returns its exit status and combined output.
public func runTool(_ path: String, _ arguments: [String]) throws -> (
  status: Int32, output: String
) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A 64-bit FNV-1a hash in hex: stable across runs and platforms, unlike `Hasher`.
public func stableHash(_ text: String) -> String {
  var hash = StableHash()
  hash.add(text)
  return hash.hex
}

/// The running state of `stableHash`: text added piece by piece hashes as the pieces joined,
/// so a prefix's hash costs nothing extra to read on the way.
struct StableHash {
  private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  mutating func add(_ text: String) {
    for byte in text.utf8 {
      value ^= UInt64(byte)
      value = value &* 0x100_0000_01b3
    }
  }

  var hex: String { String(value, radix: 16) }
}
