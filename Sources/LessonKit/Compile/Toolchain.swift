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

/// The module map SwiftPM writes for `CKernels`, the library's C loops: `LoRA` imports it
/// for its implementation only, but a module built with `-enable-testing` (as the tests
/// build it) still asks its clients to load it.
func nativeKernelModule(in library: String) -> [String] {
  let map = library + "/CKernels.build/module.modulemap"
  guard FileManager.default.fileExists(atPath: map) else { return [] }
  return ["-Xcc", "-fmodule-map-file=" + map]
}
