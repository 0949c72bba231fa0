import Foundation
import LoRA
import Testing

@testable import LessonRuntime

/// The runtime's store of cached blocks, on its own: what is saved loads back the same, a
/// damaged entry is removed rather than trusted, and the folder stays within its limit,
/// least recently used first out.
@Suite("The cell cache's store")
struct CellCacheStoreTests {
  static func entry(_ name: String) -> CachedEntry {
    CachedEntry(
      name: name, cellLine: 12, result: Data("[1.5]".utf8), generator: RandomGenerator(seed: 3),
      stdout: Data("fit\n".utf8), stderr: Data(),
      outputs: [.init(stdout: 4, stderr: 0, event: nil)], layouts: [Data("{}".utf8)],
      files: ["out/losses.txt"])
  }

  /// The contents of the one file `entry` says its block wrote.
  static let file = Data("0.5 0.25\n".utf8)

  static func store(limit: Int = 1 << 30) throws -> CellCacheStore {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID())")
    return CellCacheStore(folder: folder.path, salt: "s", limit: limit)
  }

  @Test func whatIsSavedLoadsBackTheSame() throws {
    let store = try Self.store()
    defer { try? FileManager.default.removeItem(atPath: store.folder) }
    let weights = Tensor(shape: [2, 2], scalars: [1, -2, 3.25, .pi])
    try store.save(
      Self.entry("fit"), states: [SavedState(layout: Data("{}".utf8), tensors: ["w": weights])],
      files: [Self.file], as: "k1")
    let stored = try #require(store.load("k1"))
    let (entry, states) = (stored.entry, stored.states)
    #expect(entry.files == ["out/losses.txt"] && stored.files == [Self.file])
    #expect(entry.name == "fit" && entry.cellLine == 12 && entry.stdout == Data("fit\n".utf8))
    var restored = entry.generator
    var fresh = RandomGenerator(seed: 3)
    #expect(restored.next() == fresh.next())
    #expect(states.count == 1 && states[0].tensors["w"]?.scalars == weights.scalars)
    #expect(store.load("missing") == nil)
  }

  @Test func aDamagedEntryIsRemovedNotTrusted() throws {
    let store = try Self.store()
    defer { try? FileManager.default.removeItem(atPath: store.folder) }
    try store.save(
      Self.entry("fit"), states: [SavedState(layout: Data(), tensors: [:])], files: [Self.file],
      as: "k")
    let state = store.folder + "/k/state.safetensors"
    try Data("not a safetensors file".utf8).write(to: URL(fileURLWithPath: state))
    #expect(store.load("k") == nil)
    #expect(!FileManager.default.fileExists(atPath: store.folder + "/k"))
  }

  /// A value changed on disk in a file that still reads (a careless edit, a bad sector) is
  /// a miss: the entry's files no longer hash to the checksum saved beside them.
  @Test func aValueChangedOnDiskIsAMiss() throws {
    let store = try Self.store()
    defer { try? FileManager.default.removeItem(atPath: store.folder) }
    let weights = Tensor(shape: [3], scalars: [1, 2, 3])
    try store.save(
      Self.entry("fit"), states: [SavedState(layout: Data(), tensors: ["w": weights])],
      files: [Self.file], as: "k")
    let changed = Tensor(shape: [3], scalars: [1, 2, 4])
    try Safetensors(tensors: ["0/w": changed], metadata: [:]).write(
      to: URL(fileURLWithPath: store.folder + "/k/state.safetensors"))
    #expect(store.load("k") == nil)
    #expect(!FileManager.default.fileExists(atPath: store.folder + "/k"))
  }

  /// Every single-byte change and every truncation of an entry's files (the block's own too), as a damaged disk
  /// or an interrupted copy leaves them: each load is a miss or the entry as it was, never a
  /// trap and never another value.
  @Test func everyDamageIsAMissOrTheTruth() throws {
    let store = try Self.store()
    defer { try? FileManager.default.removeItem(atPath: store.folder) }
    let weights = Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 4, 5, 6])
    let state = SavedState(layout: Data("{\"kind\":\"test\"}".utf8), tensors: ["w": weights])
    var generator = RandomGenerator(seed: 9)
    var misses = 0
    for round in 0..<400 {
      try store.save(Self.entry("fit"), states: [state], files: [Self.file], as: "k")
      let file = ["entry.json", "state.safetensors", "checksum", "files/0"][round % 4]
      let url = URL(fileURLWithPath: store.folder + "/k/" + file)
      var bytes = [UInt8](try Data(contentsOf: url))
      if round % 5 == 4 {
        bytes.removeLast(Int(generator.next() % UInt64(bytes.count)) + 1)
      } else {
        let index = Int(generator.next() % UInt64(bytes.count))
        bytes[index] ^= UInt8(generator.next() % 255 + 1)
      }
      try Data(bytes).write(to: url)
      if let stored = store.load("k") {
        #expect(
          stored.entry.name == "fit" && stored.files == [Self.file]
            && stored.states.first?.tensors["w"]?.scalars == weights.scalars)
      } else {
        misses += 1
      }
    }
    #expect(misses == 400, "every change is caught by the checksum")
  }

  @Test func theLeastRecentlyUsedGoFirstBeyondTheLimit() throws {
    let big = Tensor(shape: [1024], scalars: Array(repeating: 1, count: 1024))  // 4 KiB
    let store = try Self.store(limit: 10_000)
    defer { try? FileManager.default.removeItem(atPath: store.folder) }
    for key in ["a", "b"] {
      try store.save(
        Self.entry(key), states: [SavedState(layout: Data(), tensors: ["t": big])],
        files: [Self.file],
        as: key)
      Thread.sleep(forTimeInterval: 1.1)  // file dates have one-second steps on some systems
    }
    _ = store.load("a")  // "a" is now the more recently used
    try store.save(
      Self.entry("c"), states: [SavedState(layout: Data(), tensors: ["t": big])],
      files: [Self.file],
      as: "c")
    let kept = Set(try FileManager.default.contentsOfDirectory(atPath: store.folder))
    #expect(kept == ["a", "c"])
  }

  @Test func numbersAreFormattedAsPythonFormatsThem() {
    #expect(0.012345.fixed(4) == "0.0123")
    #expect(Float(2).fixed(0) == "2")
    #expect(0.1234.percent(1) == "12.3%")
    #expect(1.5.fixed(-3) == "2")
  }
}
