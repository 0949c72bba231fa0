import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The resident memory, in bytes, of the process `root` and all its descendants: a lesson
/// program and whatever it started. Zero where it cannot be measured (outside Linux).
///
/// Walks `/proc/PID/task/PID/children` down from `root` and adds each process's resident
/// pages from `/proc/PID/statm`: a few small reads, about 0.05 ms for a lesson, where
/// scanning all of `/proc` took 1.3 ms.
func residentBytes(ofTree root: pid_t) -> Int {
  #if os(Linux)
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    var total = 0
    var pending = [Int(root)]
    var visited = Set<Int>()
    while let pid = pending.popLast(), visited.insert(pid).inserted, visited.count < 10_000 {
      // statm: size resident shared text lib data dt, in pages.
      let statm = smallFile("/proc/\(pid)/statm").split(separator: " ")
      if statm.count > 1, let pages = Int(statm[1]) { total += pages * pageSize }
      // A process's threads each list their own children; most lessons have a few threads.
      for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
      {
        pending += smallFile("/proc/\(pid)/task/\(task)/children").split(separator: " ")
          .compactMap { Int($0) }
      }
    }
    return total
  #else
    return 0
  #endif
}

/// The text of a small `/proc` file (up to 4 KiB), or "" when it cannot be read.
private func smallFile(_ path: String) -> Substring {
  let descriptor = open(path, O_RDONLY | O_CLOEXEC)
  guard descriptor >= 0 else { return "" }
  defer { close(descriptor) }
  var buffer = [UInt8](repeating: 0, count: 4096)
  let count = read(descriptor, &buffer, buffer.count)
  return count > 0
    ? String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(
      in: .whitespacesAndNewlines)[...] : ""
}

/// `bytes` for a message: `4 GiB`, `512 MiB`.
func byteCount(_ bytes: Int) -> String {
  if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
  if bytes >= 1 << 20 { return "\(bytes >> 20) MiB" }
  return "\(bytes) bytes"
}
