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
  /// The files the block wrote (`FileWatch`), in order; their contents are `files/INDEX`.
  var files: [String]
}

/// A cache entry as read back: the entry, its listed values' states and the contents of the
/// files it wrote.
struct StoredEntry {
  var entry: CachedEntry
  var states: [SavedState]
  var files: [Data]
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
  /// The file that lists, for the runner, the files under the lesson's folder that cached
  /// blocks wrote: outputs, which the runner leaves out of the key's data files.
  var outputsFile: String?

  /// The store the runner named in the environment, or `nil` when it named none.
  static let current: CellCacheStore? = {
    let environment = ProcessInfo.processInfo.environment
    defer {
      for name in [
        "LESSONS_CELL_CACHE", "LESSONS_CELL_CACHE_SALT", "LESSONS_CELL_CACHE_LIMIT",
        "LESSONS_CELL_CACHE_OUTPUTS",
      ] {
        unsetenv(name)
      }
    }
    guard let folder = environment["LESSONS_CELL_CACHE"], !folder.isEmpty else { return nil }
    return CellCacheStore(
      folder: folder, salt: environment["LESSONS_CELL_CACHE_SALT"] ?? "",
      limit: environment["LESSONS_CELL_CACHE_LIMIT"].flatMap(Int.init) ?? (2 << 30),
      outputsFile: environment["LESSONS_CELL_CACHE_OUTPUTS"])
  }()

  /// The entry stored under `key` with its listed values' states and its files, or `nil`
  /// when there is none or it cannot be read: a damaged entry, or one whose files no longer
  /// hash to the checksum saved with them (a value changed on disk), is removed, never
  /// trusted.
  func load(_ key: String) -> StoredEntry? {
    let path = folder + "/" + key
    guard FileManager.default.fileExists(atPath: path + "/entry.json") else { return nil }
    do {
      let entryData = try Data(contentsOf: URL(fileURLWithPath: path + "/entry.json"))
      let stateData = try Data(contentsOf: URL(fileURLWithPath: path + "/state.safetensors"))
      let checksum = try String(contentsOfFile: path + "/checksum", encoding: .utf8)
      let entry = try EventJSON.decoder().decode(CachedEntry.self, from: entryData)
      let files = try entry.files.indices.map { index in
        try Data(contentsOf: URL(fileURLWithPath: path + "/files/\(index)"))
      }
      guard checksum == Self.checksum(entryData, stateData, files) else {
        throw CachedBlockError(description: "\(path) does not match its checksum")
      }
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
      return StoredEntry(entry: entry, states: states, files: files)
    } catch {
      try? FileManager.default.removeItem(atPath: path)
      return nil
    }
  }

  /// What an entry's files hash to, as its `checksum` file records it.
  static func checksum(_ entry: Data, _ state: Data, _ files: [Data] = []) -> String {
    var hash = StateHash()
    hash.add(entry)
    hash.add(state)
    for file in files { hash.add(file) }
    return hash.hex
  }

  /// Stores `entry`, `states` and the contents of its `files` under `key`: written into a
  /// folder of its own, then renamed into place, so a reader never sees half an entry; then
  /// evicts old entries.
  func save(_ entry: CachedEntry, states: [SavedState], files: [Data], as key: String) throws {
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
    if !files.isEmpty {
      try FileManager.default.createDirectory(
        atPath: partial + "/files", withIntermediateDirectories: true)
    }
    for (index, contents) in files.enumerated() {
      try contents.write(to: URL(fileURLWithPath: partial + "/files/\(index)"))
    }
    try Data(Self.checksum(entryData, stateData, files).utf8).write(
      to: URL(fileURLWithPath: partial + "/checksum"))
    let path = folder + "/" + key
    try? FileManager.default.removeItem(atPath: path)
    if rename(partial, path) != 0 { try? FileManager.default.removeItem(atPath: partial) }
    evict()
  }

  /// The bytes of the files in the folder at `path` and in its folders.
  private static func bytes(under path: String) -> Int {
    var total = 0
    let files = FileManager.default.enumerator(atPath: path)
    while files?.nextObject() != nil {
      guard let attributes = files?.fileAttributes,
        attributes[.type] as? FileAttributeType == .typeRegular
      else { continue }
      total += (attributes[.size] as? Int) ?? 0
    }
    return total
  }

  /// Adds `files` (paths relative to the lesson's folder) to the outputs file, atomically.
  func noteOutputs(_ files: [String]) {
    guard let outputsFile, !files.isEmpty else { return }
    let known = ((try? String(contentsOfFile: outputsFile, encoding: .utf8)) ?? "")
      .split(separator: "\n").map(String.init)
    let all = Set(known).union(files)
    guard all.count > Set(known).count else { return }
    let url = URL(fileURLWithPath: outputsFile)
    try? FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? Data((all.sorted().joined(separator: "\n") + "\n").utf8).write(to: url, options: .atomic)
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
        return (path, used, Self.bytes(under: path))
      }
    var total = entries.reduce(0) { $0 + $1.bytes }
    entries.sort { $0.used < $1.used }
    for entry in entries where total > limit {
      try? FileManager.default.removeItem(atPath: entry.path)
      total -= entry.bytes
    }
  }
}
