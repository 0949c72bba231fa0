import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The files this program and everything it started wrote, as the write hook noted them:
/// the runner preloads `libLessonWriteHook` into the program (children inherit it) and names
/// the log in `LESSONS_WRITE_LOG`. A record is `OP STAMP PATH`, ended by a NUL byte
/// (`Sources/CWriteHook/write_hook.c`).
struct WriteLog {
  /// What happened to a file.
  enum Operation: UInt8 {
    /// Made new (an open that created it, a temporary file, a rename onto nothing).
    case created = 0x43  // C
    /// Written from empty: truncated, or replaced by a rename.
    case truncated = 0x54  // T
    /// Opened for writing with its contents kept (so perhaps changed in place).
    case written = 0x57  // W
    /// Opened for appending.
    case appended = 0x41  // A
    /// Removed, or renamed away.
    case removed = 0x44  // D
  }

  /// One record.
  struct Record: Equatable {
    var operation: Operation
    /// The file as it was opened (`written`, `appended`): size and modification time.
    var stamp: String?
    /// Absolute.
    var path: String
  }

  /// The log's path.
  let path: String

  /// This run's log, when the runner named one and the hook is loaded: without the hook an
  /// empty log would say, wrongly, that nothing was written.
  static let current: WriteLog? = {
    guard let path = ProcessInfo.processInfo.environment["LESSONS_WRITE_LOG"], !path.isEmpty,
      dlsym(nil, "lessons_write_hook_version") != nil  // RTLD_DEFAULT: every loaded library
    else { return nil }
    return WriteLog(path: path)
  }()

  /// Where the log ends now: the start of what comes next.
  func end() -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
  }

  /// The records from byte `offset` on.
  func records(from offset: Int) -> [Record] {
    guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
    defer { try? handle.close() }
    guard (try? handle.seek(toOffset: UInt64(max(offset, 0)))) != nil,
      let data = try? handle.readToEnd()
    else { return [] }
    return Self.parse(data)
  }

  /// The records in `data`; a record that does not parse (a log cut short) is skipped.
  static func parse(_ data: Data) -> [Record] {
    data.split(separator: 0).compactMap { bytes -> Record? in
      let parts = bytes.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3, parts[0].count == 1,
        let operation = Operation(rawValue: parts[0].first!), parts[2].first == 0x2F  // "/"
      else { return nil }
      let stamp = String(decoding: parts[1], as: UTF8.self)
      return Record(
        operation: operation, stamp: stamp == "-" ? nil : stamp,
        path: String(decoding: parts[2], as: UTF8.self))
    }
  }

  /// A file's size and modification time, as the hook writes them; `nil` when it is not a
  /// regular file.
  static func stamp(of path: String) -> String? { FileStamp(path: path)?.text }
}

/// A regular file as `lstat` describes it: enough to see that it was written (a rename
/// onto it changes the inode, a write the size or the time).
struct FileStamp: Equatable {
  var size: Int
  var seconds: Int
  var nanoseconds: Int
  var inode: UInt64

  /// What `info` describes, when it is a regular file.
  init?(_ info: stat) {
    guard info.st_mode & S_IFMT == S_IFREG else { return nil }
    #if os(Linux)
      let modified = info.st_mtim
    #else
      let modified = info.st_mtimespec
    #endif
    size = Int(info.st_size)
    seconds = Int(modified.tv_sec)
    nanoseconds = Int(modified.tv_nsec)
    inode = UInt64(info.st_ino)
  }

  /// The file at `path` (not followed when it is a link), when it is a regular file.
  init?(path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    self.init(info)
  }

  /// As the write hook writes it: `SIZE:SECONDS:NANOSECONDS`.
  var text: String { "\(size):\(seconds):\(nanoseconds)" }
}

/// What a block did to one file, from its records in order, judged by how the file is
/// when the block ends.
enum FileOutcome: Equatable {
  /// Its contents came wholly from the block: a hit writes them again.
  case written
  /// The block added to it or changed it in place, so that what it holds depends on what
  /// it held before: a hit could not redo that.
  case changedInPlace
  /// It was there before the block and is gone: a hit could not remove it again.
  case removed
  /// Nothing a hit must redo: opened and left alone, or made and removed again (a
  /// temporary file).
  case nothing

  /// Folds `records` (one file's, in order) with the file's stamp now (`nil`: not there).
  init(_ records: [WriteLog.Record], now: String?) {
    guard let first = records.first else {
      self = .nothing
      return
    }
    let existedBefore = first.operation != .created
    // Whether the contents since the last creation or truncation are all the block's, and
    // whether what was there before the block may still be part of them.
    var whole = false
    var keepsOld = false
    var openedAs: String?
    var replaced = false
    for record in records {
      switch record.operation {
      case .created, .truncated:
        whole = true
        keepsOld = false
        replaced = true
      case .written, .appended:
        if !whole {
          keepsOld = true
          openedAs = openedAs ?? record.stamp
        }
      case .removed:
        whole = false
        keepsOld = false
        replaced = true
      }
    }
    switch (now, whole, keepsOld) {
    case (nil, _, _): self = existedBefore ? .removed : .nothing
    case (_, true, _): self = .written
    case (let now?, _, true):
      // Opened for writing and left as it was: nothing happened to it.
      self = !replaced && openedAs == now ? .nothing : .changedInPlace
    default:
      // Removed, then made again by something the hook does not see: kept as it ends.
      self = .written
    }
  }
}
