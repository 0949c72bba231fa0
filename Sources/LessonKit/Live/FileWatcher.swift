import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Waits for a set of files to change: the lesson and the data and model files it reads.
///
/// A change is a different size, modification time or inode of a watched file (one inside
/// a watched folder, to any depth), or a file appearing or going: what an editor's save
/// does, whether it writes in place or renames a new file over the old one. On Linux,
/// inotify wakes the watcher the moment something happens in a watched folder; elsewhere,
/// and as a safety net, it looks every 200 ms.
public final class FileWatcher {
  /// The files and folders watched.
  public let paths: [String]
  private var fingerprint: [String: String]
  private let notifications: Int32

  /// Watches `paths`, as they are now.
  public init(paths: [String]) {
    self.paths = paths
    fingerprint = fileFingerprints(of: paths)
    #if os(Linux)
      notifications = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
      if notifications >= 0 {
        let events = UInt32(
          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)
        for folder in Self.folders(watching: paths) {
          _ = inotify_add_watch(notifications, folder, events)
        }
      }
    #else
      notifications = -1
    #endif
  }

  deinit {
    if notifications >= 0 { close(notifications) }
  }

  /// Whether something changed since the watcher was made or last said so.
  public func hasChanged() -> Bool {
    drainNotifications()
    let now = fileFingerprints(of: paths)
    guard now != fingerprint else { return false }
    fingerprint = now
    return true
  }

  /// Blocks until something changes, then returns. An editor's save often comes as several
  /// writes; what follows within 100 ms of the first counts as the same change.
  public func waitForChange() {
    while !hasChanged() {
      var descriptor = pollfd(fd: notifications, events: Int16(POLLIN), revents: 0)
      if notifications >= 0 {
        _ = poll(&descriptor, 1, 200)
      } else {
        usleep(200_000)
      }
    }
    usleep(100_000)
    _ = hasChanged()
  }

  private func drainNotifications() {
    guard notifications >= 0 else { return }
    var buffer = [UInt8](repeating: 0, count: 4096)
    while read(notifications, &buffer, buffer.count) > 0 {}
  }

  /// The folders to watch for `paths`: the folder of each file, and each folder with all
  /// its subfolders.
  private static func folders(watching paths: [String]) -> Set<String> {
    var folders = Set<String>()
    for path in paths {
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        folders.insert(path)
        for sub in FileManager.default.subpaths(atPath: path) ?? [] {
          var isSubfolder: ObjCBool = false
          let full = path + "/" + sub
          if FileManager.default.fileExists(atPath: full, isDirectory: &isSubfolder),
            isSubfolder.boolValue
          {
            folders.insert(full)
          }
        }
      } else {
        folders.insert(URL(fileURLWithPath: path).deletingLastPathComponent().path)
      }
    }
    return folders
  }
}

/// Size, modification time and inode of every file at or under `paths`, by path.
func fileFingerprints(of paths: [String]) -> [String: String] {
  var result: [String: String] = [:]
  for path in paths {
    let files =
      [path] + (FileManager.default.subpaths(atPath: path) ?? []).map { path + "/" + $0 }
    for file in files { result[file] = fileStamp(file)?.text ?? "missing" }
  }
  return result
}

/// A file's size, modification time and inode as `SIZE:SECONDS.NANOSECONDS:INODE`, and
/// whether it is a regular file; `nil` when nothing is there.
func fileStamp(_ path: String) -> (text: String, isRegularFile: Bool)? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  #if os(Linux)
    let modified = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
  #else
    let modified = "\(info.st_mtimespec.tv_sec).\(info.st_mtimespec.tv_nsec)"
  #endif
  return ("\(info.st_size):\(modified):\(info.st_ino)", info.st_mode & S_IFMT == S_IFREG)
}
