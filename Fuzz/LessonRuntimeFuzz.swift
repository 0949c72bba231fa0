// The libFuzzer target for the cell cache's reader, compiled by `Scripts/fuzz` into the
// LoRA module's binary together with the runtime's sources (LessonEvents, LessonRuntime),
// so that it reaches the runtime's internal types; `fuzzOneInput` (LoRAFuzz.swift) calls it.
//
// `cache-entry`: a cached block's entry as the store keeps it, one folder of files: the
// input is `entry.json`, `state.safetensors` and the contents of the files the block wrote,
// separated by lines of `@@`. The harness writes them with a checksum that matches (so the
// mutations reach past it), then reads the entry back as a hit does: loaded, its value
// decoded, its states restored into a small GPT with LoRA, its replay planned, its files'
// paths resolved. A miss or a whole entry, never a trap.
import Foundation

/// The line between the parts of an input.
private let separator = Data("\n@@\n".utf8)

/// A store of its own for each fuzzing process.
private let fuzzStore = CellCacheStore(
  folder: NSTemporaryDirectory() + "fuzz-cache-entry-\(getpid())", salt: "", limit: 1 << 30)

func fuzzCacheEntry(_ data: Data) {
  _ = cacheEntrySeedsWritten
  var parts: [Data] = []
  var rest = data[...]
  while let range = rest.range(of: separator), parts.count < 8 {
    parts.append(Data(rest[..<range.lowerBound]))
    rest = rest[range.upperBound...]
  }
  parts.append(Data(rest))
  guard parts.count >= 2 else { return }
  let folder = fuzzStore.folder + "/k"
  try? FileManager.default.removeItem(atPath: fuzzStore.folder)
  try! FileManager.default.createDirectory(
    atPath: folder + "/files", withIntermediateDirectories: true)
  let files = Array(parts.dropFirst(2))
  try! parts[0].write(to: URL(fileURLWithPath: folder + "/entry.json"))
  try! parts[1].write(to: URL(fileURLWithPath: folder + "/state.safetensors"))
  for (index, file) in files.enumerated() {
    try! file.write(to: URL(fileURLWithPath: folder + "/files/\(index)"))
  }
  try! Data(CellCacheStore.checksum(parts[0], parts[1], files).utf8).write(
    to: URL(fileURLWithPath: folder + "/checksum"))

  guard let stored = fuzzStore.load("k") else { return }
  precondition(stored.files.count == stored.entry.files.count)
  _ = try? EventJSON.decoder().decode([Float].self, from: stored.entry.result)
  let (model, optimizer) = cacheEntryTarget
  if stored.states.count == 2 {
    _ = try? model.restore(stored.states[0])
    _ = try? optimizer.restore(stored.states[1])
  }
  for step in stored.entry.replaySteps(atCellLine: 40) {
    precondition(step.stdout.count <= stored.entry.stdout.count)
  }
  for file in stored.entry.files { _ = FileWatch.resolve(file) }
}

/// What the seeds' block listed: a small GPT with LoRA and its AdamW.
private let cacheEntryTarget = smallTrainedGPT()

/// With `FUZZ_WRITE_SEEDS` naming a folder, writes the seeds (`Fuzz/Corpus/cache-entry`):
/// entries the store saved, of a block that printed, checked and wrote a file, and of one
/// that did none of these.
private let cacheEntrySeedsWritten: Void = {
  guard let folder = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] else { return }
  let (model, optimizer) = cacheEntryTarget
  let states = [try! model.savedState(), try! optimizer.savedState()]
  let check = RuntimeEvent.check(Check(passed: true, message: "the loss fell", line: 41))
  let entries = [
    (
      "full",
      CachedEntry(
        name: "fit", cellLine: 40, result: Data("[2.5,1.25]".utf8),
        generator: RandomGenerator(seed: 7), stdout: Data("loss 2.5\nloss 1.25\n".utf8),
        stderr: Data("note\n".utf8),
        outputs: [
          .init(stdout: 9, stderr: 0, event: check), .init(stdout: 19, stderr: 5, event: nil),
        ], layouts: states.map(\.layout), files: ["out/losses.txt", "/tmp/adapter.safetensors"]),
      [Data("2.5 1.25\n".utf8), Data("adapter".utf8)]
    ),
    (
      "empty",
      CachedEntry(
        name: "quiet", cellLine: 3, result: Data("true".utf8),
        generator: RandomGenerator(seed: 1), stdout: Data(), stderr: Data(),
        outputs: [.init(stdout: 0, stderr: 0, event: nil)], layouts: [], files: []),
      []
    ),
  ]
  for (name, entry, files) in entries {
    let store = CellCacheStore(folder: folder + "/.store-\(name)", salt: "", limit: 1 << 30)
    try! store.save(entry, states: name == "full" ? states : [], files: files, as: "k")
    let path = store.folder + "/k/"
    var input = try! Data(contentsOf: URL(fileURLWithPath: path + "entry.json"))
    input += separator + (try! Data(contentsOf: URL(fileURLWithPath: path + "state.safetensors")))
    for file in files { input += separator + file }
    try! input.write(to: URL(fileURLWithPath: "\(folder)/seed-\(name)"))
    try! FileManager.default.removeItem(atPath: store.folder)
  }
}()

// `write-log`: the write hook's log as a cached block reads it (`WriteLog.parse`), then each
// file's records folded into what a hit must do (`FileOutcome`), with the file there or not.
// Records that parse write back to the same bytes and parse again to the same records.
func fuzzWriteLog(_ data: Data) {
  let records = WriteLog.parse(data)
  var again = Data()
  for record in records {
    // Bytes, not characters: "/" and a combining mark after it are one Character.
    precondition(record.path.utf8.first == UInt8(ascii: "/"))
    again.append(record.operation.rawValue)
    again.append(Data(" \(record.stamp ?? "-") \(record.path)".utf8))
    again.append(0)
  }
  precondition(WriteLog.parse(again) == records)
  var byPath: [String: [WriteLog.Record]] = [:]
  for record in records { byPath[record.path, default: []].append(record) }
  for (_, records) in byPath {
    _ = FileOutcome(records, now: nil)
    _ = FileOutcome(records, now: records.last?.stamp ?? "0:0:0")
  }
}
