import Foundation
import LessonEvents
import LoRA

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a cached block did, as stored: the values it left behind, the generator where it
/// left it, and everything it showed, to replay on a hit.
struct CachedEntry: Codable {
  /// Text or an event, in the order the block produced them.
  struct Output: Codable {
    /// Bytes the block wrote to standard output before this event, counted from its start.
    var stdout: Int
    /// Bytes the block wrote to standard error before this event.
    var stderr: Int
    /// The event, or `nil` for the text after the last event.
    var event: RuntimeEvent?
  }

  /// The block's name, for messages.
  var name: String
  /// The first lesson line of the cell when it was recorded: a check's line is replayed
  /// relative to the cell, so prose edited above it does not make it wrong.
  var cellLine: Int
  /// The block's return value, as JSON.
  var result: Data
  /// The library's generator on exit.
  var generator: RandomGenerator
  /// What the block wrote.
  var stdout: Data
  var stderr: Data
  /// Events, each with where the text stood when it was sent.
  var outputs: [Output]
  /// The layouts of the listed values' saved states, in order; their tensors are in
  /// `state.safetensors` as `INDEX/NAME`.
  var layouts: [Data]
}

/// The folder of cached blocks, which the runner names for `run`, `watch`, `serve` and
/// `export` (never for grading, and not with `--no-cache`): one folder per key, written
/// atomically, evicted least recently used first beyond a size limit.
struct CellCacheStore {
  /// The folder.
  var folder: String
  /// Everything outside the program that the key covers: the library build and the
  /// lesson's data files, as the runner fingerprinted them.
  var salt: String
  /// Bytes the folder may hold.
  var limit: Int

  /// The store the runner named in the environment, or `nil` when it named none.
  static let current: CellCacheStore? = {
    let environment = ProcessInfo.processInfo.environment
    defer {
      for name in ["LESSONS_CELL_CACHE", "LESSONS_CELL_CACHE_SALT", "LESSONS_CELL_CACHE_LIMIT"] {
        unsetenv(name)
      }
    }
    guard let folder = environment["LESSONS_CELL_CACHE"], !folder.isEmpty else { return nil }
    return CellCacheStore(
      folder: folder, salt: environment["LESSONS_CELL_CACHE_SALT"] ?? "",
      limit: environment["LESSONS_CELL_CACHE_LIMIT"].flatMap(Int.init) ?? (2 << 30))
  }()

  /// The entry stored under `key` with its listed values' states, or `nil` when there is
  /// none or it cannot be read: a damaged entry, or one whose files no longer hash to the
  /// checksum saved with them (a value changed on disk), is removed, never trusted.
  func load(_ key: String) -> (entry: CachedEntry, states: [SavedState])? {
    let path = folder + "/" + key
    guard FileManager.default.fileExists(atPath: path + "/entry.json") else { return nil }
    do {
      let entryData = try Data(contentsOf: URL(fileURLWithPath: path + "/entry.json"))
      let stateData = try Data(contentsOf: URL(fileURLWithPath: path + "/state.safetensors"))
      let checksum = try String(contentsOfFile: path + "/checksum", encoding: .utf8)
      guard checksum == Self.checksum(entryData, stateData) else {
        throw CachedBlockError(description: "\(path) does not match its checksum")
      }
      let entry = try EventJSON.decoder().decode(CachedEntry.self, from: entryData)
      let file = try Safetensors(data: stateData, source: path + "/state.safetensors")
      let states = entry.layouts.enumerated().map { index, layout in
        let prefix = "\(index)/"
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in file.tensors where name.hasPrefix(prefix) {
          tensors[String(name.dropFirst(prefix.count))] = tensor
        }
        return SavedState(layout: layout, tensors: tensors)
      }
      // Recently used: the last to be evicted.
      _ = utimes(path, nil)
      return (entry, states)
    } catch {
      try? FileManager.default.removeItem(atPath: path)
      return nil
    }
  }

  /// What an entry's two files hash to, as its `checksum` file records it.
  static func checksum(_ entry: Data, _ state: Data) -> String {
    var hash = StateHash()
    hash.add(entry)
    hash.add(state)
    return hash.hex
  }

  /// Stores `entry` and `states` under `key`: written into a folder of its own, then renamed
  /// into place, so a reader never sees half an entry; then evicts old entries.
  func save(_ entry: CachedEntry, states: [SavedState], as key: String) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let partial = folder + "/.partial-\(getpid())-\(key)"
    try? FileManager.default.removeItem(atPath: partial)
    try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
    var tensors: [String: Tensor] = [:]
    for (index, state) in states.enumerated() {
      for (name, tensor) in state.tensors { tensors["\(index)/\(name)"] = tensor }
    }
    let stateData = Safetensors(tensors: tensors, metadata: [:]).encoded()
    let entryData = try EventJSON.encoder().encode(entry)
    try stateData.write(to: URL(fileURLWithPath: partial + "/state.safetensors"))
    try entryData.write(to: URL(fileURLWithPath: partial + "/entry.json"))
    try Data(Self.checksum(entryData, stateData).utf8).write(
      to: URL(fileURLWithPath: partial + "/checksum"))
    let path = folder + "/" + key
    try? FileManager.default.removeItem(atPath: path)
    if rename(partial, path) != 0 { try? FileManager.default.removeItem(atPath: partial) }
    evict()
  }

  /// Removes the least recently used entries until the folder holds at most `limit` bytes.
  private func evict() {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    var entries: [(path: String, used: Date, bytes: Int)] = names.filter { !$0.hasPrefix(".") }
      .map { name in
        let path = folder + "/" + name
        let used =
          (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
          ?? .distantPast
        let bytes = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).reduce(0) {
          total, file in
          total
            + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + file)[.size]
              as? Int) ?? 0)
        }
        return (path, used, bytes)
      }
    var total = entries.reduce(0) { $0 + $1.bytes }
    entries.sort { $0.used < $1.used }
    for entry in entries where total > limit {
      try? FileManager.default.removeItem(atPath: entry.path)
      total -= entry.bytes
    }
  }
}
