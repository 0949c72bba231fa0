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
        FileManager.default.fileExists(atPath: modules + "/\(module).swiftmodule"),
        writeHookName.map({ FileManager.default.fileExists(atPath: directory + "/" + $0) }) ?? true
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

  /// The library the runner preloads into lesson programs to see the files they write
  /// (`CWriteHook`), where there is one (Linux).
  public var writeHook: String? { writeHookName.map { libraryDirectory + "/" + $0 } }

  /// The build cache beside the libraries: compiled lessons, the key runs and the
  /// grader's secret.
  public var cacheDirectory: String { libraryDirectory + "/lesson-cache" }

  /// What identifies this compiler and these libraries, for the build cache, the cell
  /// cache and the key runs: the compiler by path, size and date (it is over 100 MB, and
  /// an upgrade changes all three), the libraries lessons link by their contents, so that
  /// a rebuild that keeps a file's size and date is still a new library.
  public var fingerprint: String {
    let libraries = [
      libraryDirectory + "/" + supportLibraryName,
      libraryDirectory + "/Modules/LoRA.swiftmodule",
      libraryDirectory + "/Modules/LessonRuntime.swiftmodule",
    ]
    return ([FileStamp(swiftc).text] + libraries.map { "\($0):\(contentHash(of: $0))" })
      .joined(separator: "\n")
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

/// The file name of the write hook's library, where it is built (Linux: it interposes
/// glibc's calls).
let writeHookName: String? = {
  #if os(Linux)
    return "libLessonWriteHook.so"
  #else
    return nil
  #endif
}()

/// The module maps SwiftPM writes for the library's C targets (`CKernels`, the C loops;
/// `CProcessControl`, the runtime's `prctl`): the library imports them for its
/// implementation only, but a module built with `-enable-testing` (as the tests build it)
/// still asks its clients to load them.
func nativeKernelModule(in library: String) -> [String] {
  // The C targets the library's modules import: its kernels (LoRA), the process control
  // of its runtime (LessonRuntime).
  ["CKernels", "CProcessControl"].flatMap { target -> [String] in
    let map = library + "/\(target).build/module.modulemap"
    guard FileManager.default.fileExists(atPath: map) else { return [] }
    return ["-Xcc", "-fmodule-map-file=" + map]
  }
}

/// A file's path, size and modification date.
private struct FileStamp: Hashable {
  var path: String
  var size: Int
  var date: Double

  init(_ path: String) {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    self.path = path
    size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
    date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
  }

  var text: String { "\(path):\(size):\(date)" }
}

/// The hash of a file's contents ("" when it cannot be read), read once per process for
/// each version of the file (its size and date): a few milliseconds for the 7 MB library.
private func contentHash(of path: String) -> String {
  let stamp = FileStamp(path)
  if let known = contentHashes.withLock({ $0[stamp] }) { return known }
  var hash = StableHash()
  guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
  else { return "" }
  data.withUnsafeBytes { hash.add($0) }
  contentHashes.withLock { $0[stamp] = hash.hex }
  return hash.hex
}

/// `contentHash`'s memory.
private let contentHashes = LockedDictionary<FileStamp, String>()

/// A dictionary behind a lock.
private final class LockedDictionary<Key: Hashable, Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [Key: Value] = [:]

  func withLock<T>(_ body: (inout [Key: Value]) -> T) -> T {
    lock.withLock { body(&storage) }
  }
}
