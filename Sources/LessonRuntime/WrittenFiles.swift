import Foundation
import LoRA

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The files a cached block writes, so that a hit can write them again: every file under the
/// lesson's folder (where the program runs) that is new or changed when the block ends, and
/// every file the library wrote anywhere meanwhile (`FileWrites`: adapters, weights,
/// checkpoints). A block that removes a file is refused, since a hit could not know to
/// remove it. Names that start with a dot, and the folders they name, are not looked at.
final class FileWatch {
  /// A file as `stat` describes it: enough to see that it was written.
  private struct Stamp: Equatable {
    var size: Int
    var modified: timespec
    var inode: UInt64

    static func == (a: Stamp, b: Stamp) -> Bool {
      a.size == b.size && a.inode == b.inode && a.modified.tv_sec == b.modified.tv_sec
        && a.modified.tv_nsec == b.modified.tv_nsec
    }
  }

  /// Files looked at, at most: a bigger folder is watched in part.
  static let fileLimit = 10_000

  /// The folder the program runs in, as an absolute path.
  let folder: String
  private let before: [String: Stamp]
  private var announced: [String] = []
  private let previousObserver: ((URL) -> Void)?

  /// Starts watching: the folder as it is now, and the library's writes from now on.
  init() {
    folder = FileManager.default.currentDirectoryPath
    before = Self.files(under: folder)
    previousObserver = FileWrites.observer
    FileWrites.observer = { [weak self] url in self?.announced.append(url.path) }
  }

  /// Stops watching; the files the block wrote, each relative to the folder when it is in
  /// it (absolute otherwise), in order.
  ///
  /// - Throws: `CachedBlockError` when the block removed a file.
  func finish(block name: String) throws -> [String] {
    stop()
    let after = Self.files(under: folder)
    if let removed = before.keys.sorted().first(where: { after[$0] == nil }) {
      throw CachedBlockError(
        description: "cached(\"\(name)\") removed \(removed), which a cache hit could not "
          + "remove again: remove it outside the block")
    }
    var written = Set(after.filter { before[$0.key] != $0.value }.keys)
    for path in announced { written.insert(relative(path)) }
    return written.sorted()
  }

  /// Stops listening to the library's writes (also when the block failed).
  func stop() {
    FileWrites.observer = previousObserver
  }

  /// `path` relative to the folder when it is inside it.
  private func relative(_ path: String) -> String {
    let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
    let prefix = folder.hasSuffix("/") ? folder : folder + "/"
    return standardized.hasPrefix(prefix)
      ? String(standardized.dropFirst(prefix.count)) : standardized
  }

  /// `path` (as `finish` gives it) as a path the program can open.
  static func resolve(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
  }

  /// The regular files under `folder`, by path relative to it: dot-names left out, at most
  /// `fileLimit`.
  private static func files(under folder: String) -> [String: Stamp] {
    var result: [String: Stamp] = [:]
    var pending = [""]
    while let relative = pending.popLast(), result.count < fileLimit {
      guard let directory = opendir(relative.isEmpty ? folder : folder + "/" + relative) else {
        continue
      }
      defer { closedir(directory) }
      while let entry = readdir(directory), result.count < fileLimit {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
          String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard !name.hasPrefix(".") else { continue }
        let path = relative.isEmpty ? name : relative + "/" + name
        var info = stat()
        guard lstat(folder + "/" + path, &info) == 0 else { continue }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: pending.append(path)
        case S_IFREG:
          #if os(Linux)
            let modified = info.st_mtim
          #else
            let modified = info.st_mtimespec
          #endif
          result[path] = Stamp(
            size: Int(info.st_size), modified: modified, inode: UInt64(info.st_ino))
        default: break
        }
      }
    }
    return result
  }
}
