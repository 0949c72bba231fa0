import Foundation
import LoRA

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The files a cached block writes, so that a hit can write them again: every file under the
/// lesson's folder (where the program runs) that is new or changed when the block ends,
/// every file the library wrote anywhere meanwhile (`FileWrites`: adapters, weights,
/// checkpoints), and every file the write hook saw the program or a process it started
/// write anywhere (`WriteLog`). A block that removes a file is refused, since a hit could
/// not know to remove it; so is one that adds to a file or changes it in place (through a
/// descriptor opened before the block, too), since a hit could only put back the whole
/// file as this run left it. Names that start with a dot, and the folders they name, are
/// not looked at.
final class FileWatch {
  /// Files looked at, at most: a bigger folder is watched in part.
  static let fileLimit = 10_000

  /// The folder the program runs in, as an absolute path.
  let folder: String
  private let before: [String: FileStamp]
  private var announced: [String] = []
  private let previousObserver: ((URL) -> Void)?
  /// Where the write hook's log ended as the block began.
  private let logStart: Int?
  /// Files open for writing as the block began, each as it was then.
  private let openBefore: [WriteLog.Record]

  /// Starts watching: the folder as it is now, and the library's writes from now on.
  init() {
    folder = FileManager.default.currentDirectoryPath
    before = Self.files(under: folder)
    logStart = WriteLog.current?.end()
    openBefore = Self.filesOpenForWriting()
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
    let outcomes = noted().map { (path: relative($0.key), outcome: $0.value) }.sorted {
      $0.path < $1.path
    }
    if let removed = outcomes.first(where: { $0.outcome == .removed }) {
      throw CachedBlockError(
        description: "cached(\"\(name)\") removed \(removed.path), which a cache hit could not "
          + "remove again: remove it outside the block")
    }
    if let changed = outcomes.first(where: { $0.outcome == .changedInPlace }) {
      throw CachedBlockError(
        description: "cached(\"\(name)\") added to \(changed.path) or changed it in place, which "
          + "a cache hit could not do again: write the whole file inside the block (a hit "
          + "writes it back), or change it outside the block")
    }
    for (path, outcome) in outcomes where outcome == .written { written.insert(path) }
    return written.sorted()
  }

  /// What the block did to each file the write hook saw it (or a process it started)
  /// touch, and to each file open for writing as it began: by absolute path.
  private func noted() -> [String: FileOutcome] {
    let logged = WriteLog.current.flatMap { log in logStart.map { log.records(from: $0) } } ?? []
    var records: [String: [WriteLog.Record]] = [:]
    for record in openBefore + logged where watches(record.path) {
      records[record.path, default: []].append(record)
    }
    return Dictionary(
      uniqueKeysWithValues: records.map { path, records in
        (path, FileOutcome(records, now: WriteLog.stamp(of: path)))
      })
  }

  /// Whether a path the hook noted is one a hit must redo: not a device or the kernel's, not
  /// the cache's own, no name that starts with a dot (as in the folder).
  private func watches(_ path: String) -> Bool {
    let names = relative(path).split(separator: "/")
    if ["/dev/", "/proc/", "/sys/"].contains(where: { path.hasPrefix($0) }) { return false }
    if let cache = CellCacheStore.current?.folder, path.hasPrefix(cache + "/") { return false }
    return !names.contains { $0.hasPrefix(".") }
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

  /// The regular files this process has open for writing (its own standard output and
  /// error aside, which the runner reads), each as a record of its stamp now: a block that
  /// writes through one of them changes a file it did not open.
  private static func filesOpenForWriting() -> [WriteLog.Record] {
    #if os(Linux)
      guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
      else { return [] }
      return descriptors.compactMap(Int32.init).filter { $0 > 2 }.sorted().compactMap {
        descriptor -> WriteLog.Record? in
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
          let flags = try? String(
            contentsOfFile: "/proc/self/fdinfo/\(descriptor)", encoding: .utf8
          )
          .split(separator: "\n").first(where: { $0.hasPrefix("flags:") })
          .flatMap({ Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) }),
          flags & Int(O_ACCMODE) != Int(O_RDONLY),
          let path = try? FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/self/fd/\(descriptor)"),
          path.hasPrefix("/"), let stamp = WriteLog.stamp(of: path)
        else { return nil }
        return WriteLog.Record(operation: .written, stamp: stamp, path: path)
      }
    #else
      return []
    #endif
  }

  /// The regular files under `folder`, by path relative to it: dot-names left out, at most
  /// `fileLimit`.
  private static func files(under folder: String) -> [String: FileStamp] {
    var result: [String: FileStamp] = [:]
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
        case S_IFREG: result[path] = FileStamp(info)
        default: break
        }
      }
    }
    return result
  }
}
