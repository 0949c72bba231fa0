import Foundation
import LessonEvents
import LoRA

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs `body` once, and on later runs restores what it did instead of running it again,
/// for as long as nothing it depends on has changed: knitr's `cache=TRUE` for one block.
///
/// ```swift
/// let losses = try cached("fine-tuning", model, optimizer) {
///   var losses: [Float] = []
///   for _ in progress(0..<200) { ...; losses.append(loss.item()) }
///   return losses
/// }
/// ```
///
/// - What it restores: each of `state` (modules with their adapters, optimizers, tensors:
///   anything `Restorable`), written back in place; the value `body` returns (any
///   `Codable`); the library's random generator, where `body` left it; and the files `body`
///   wrote (`FileWatch`: any under the lesson's folder, those the library wrote anywhere,
///   and those the write hook saw it or a process it started write anywhere), written again
///   where they differ. What `body` printed, checked, tabulated or
///   plotted is replayed, so the cell reads the same.
/// - What the key covers: every cell that ran before this one and this cell's code (the
///   runner compiles a hash of them into the program), the library build and the lesson's
///   data files (the runner fingerprints them), the block's name and its place in the cell,
///   the random generator on entry, and the values of `state` on entry.
/// - What it refuses, since a hit would leave it stale: at run time (`CachedBlockError`), a
///   module, optimizer or trainable tensor that `body` changed without listing it in
///   `state`, and anything inside a top-level constant that `body` uses (a frozen tensor's
///   values, an object's properties), named; a file `body` removed, or one that was there
///   before and that it added to or changed in place. At compile time (the
///   runner's check), a `var` from outside the block that `body` uses. A block whose files
///   are more than a cache entry keeps (a quarter of the cache) runs, and is not cached.
///
/// Without a runner's cache (`lessons grade`, `--no-cache`, a program run by hand) `body`
/// simply runs, and the same checks hold.
public func cached<Value: Codable>(
  _ name: String, _ state: any Restorable..., body: () throws -> Value
) throws -> Value {
  try CachedBlock(name: name, state: state).run(body)
}

/// Runs `body` once, and on later runs restores `state` instead; a block that returns
/// nothing. See `cached(_:_:body:)`.
public func cached(_ name: String, _ state: any Restorable..., body: () throws -> Void) throws {
  _ = try CachedBlock(name: name, state: state).run { () throws -> Bool in
    try body()
    return true
  }
}

/// Why a cached block could not be cached or restored.
public struct CachedBlockError: Error, CustomStringConvertible {
  /// What went wrong, naming the block and the value.
  public let description: String
}

/// One call of `cached`: its key, and how it records and replays.
struct CachedBlock {
  var name: String
  var state: [any Restorable]

  func run<Value: Codable>(_ body: () throws -> Value) throws -> Value {
    CurrentCell.cachedBlocks += 1
    // A block inside a block is part of the outer one's record.
    if Recorder.current != nil { return try body() }
    let store = CellCacheStore.current
    let entryStates = try state.map { value in
      do { return try value.savedState() } catch {
        throw CachedBlockError(description: "cached(\"\(name)\"): \(error)")
      }
    }
    let key = self.key(entryStates)
    if let store, let stored = store.load(key),
      let value = try? EventJSON.decoder().decode(Value.self, from: stored.entry.result),
      stored.states.count == state.count
    {
      for (value, saved) in zip(state, stored.states) {
        do { try value.restore(saved) } catch {
          // Only an entry changed by hand can fail to fit: its key covers these values.
          throw CachedBlockError(
            description: "cached(\"\(name)\"): the cached state does not fit: \(error); "
              + "run with --no-cache, or remove \(store.folder)/\(key)")
        }
      }
      try rewrite(stored)
      Random.generator = stored.entry.generator
      replay(stored.entry)
      return value
    }
    let unlisted = UnlistedChanges(listed: state)
    let files = FileWatch()
    let recorder = Recorder()
    Recorder.current = recorder
    let value: Value
    do {
      value = try body()
      Recorder.current = nil
    } catch {
      Recorder.current = nil
      files.stop()
      throw error
    }
    let written = try files.finish(block: name)
    if let (changed, canBeListed) = unlisted.changed() {
      let remedy =
        canBeListed
        ? "pass it to cached(\"\(name)\", ...) so that a cache hit restores it too"
        : "a cache hit could not restore it; change it outside the block, or return what "
          + "the block computes"
      throw CachedBlockError(
        description: "cached(\"\(name)\") changed \(changed), which it does not list: \(remedy)")
    }
    guard let store, let (stdout, stderr, outputs) = recorder.finish(),
      let files = contents(of: written, limit: store.limit / 4)
    else { return value }
    let exitStates = try state.map { try $0.savedState() }
    let entry = CachedEntry(
      // The events' dialect, in which a diverged loss (NaN, ±∞) survives the trip.
      name: name, cellLine: CurrentCell.line, result: try EventJSON.encoder().encode(value),
      generator: Random.generator, stdout: stdout, stderr: stderr, outputs: outputs,
      layouts: exitStates.map(\.layout), files: files.map(\.path))
    // A cache that cannot be written (a full disk) costs the next run time, nothing more.
    try? store.save(entry, states: exitStates, files: files.map(\.contents), as: key)
    store.noteOutputs(files.map(\.path).filter { !$0.hasPrefix("/") })
    return value
  }

  /// The contents of the files the block wrote, or `nil` (with a note saying so) when they
  /// are more than an entry may keep: then the block is not cached, and runs again next time.
  private func contents(of files: [String], limit: Int) -> [(path: String, contents: Data)]? {
    var contents: [(path: String, contents: Data)] = []
    var total = 0
    for file in files {
      // One written and then removed (a temporary file) is nothing a hit must write.
      guard let data = FileManager.default.contents(atPath: FileWatch.resolve(file)) else {
        continue
      }
      total += data.count
      guard total <= limit else {
        note(
          "cached(\"\(name)\") is not cached: the files it writes (\(files.joined(separator: ", "))) "
            + "are more than a cache entry keeps (\(limit >> 20) MiB); write them outside the "
            + "block to cache it")
        return nil
      }
      contents.append((file, data))
    }
    return contents
  }

  /// Writes again the files the entry's block wrote, each atomically, where they differ.
  private func rewrite(_ stored: StoredEntry) throws {
    for (file, data) in zip(stored.entry.files, stored.files) {
      let path = FileWatch.resolve(file)
      if FileManager.default.contents(atPath: path) == data { continue }
      do {
        try FileManager.default.createDirectory(
          at: URL(fileURLWithPath: path).deletingLastPathComponent(),
          withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
      } catch {
        throw CachedBlockError(
          description: "cached(\"\(name)\"): could not write \(file) again, as the block did: "
            + "\(error.localizedDescription)")
      }
    }
  }

  /// Writes `message` to standard error as a note of the runner's.
  private func note(_ message: String) {
    fflush(nil)
    writeAll(Data("note: \(message)\n".utf8), to: 2)
  }

  /// The key: what this block depends on, hashed.
  private func key(_ entryStates: [SavedState]) -> String {
    var hash = StateHash()
    hash.add(CellCacheStore.current?.salt ?? "")
    hash.add(String(CurrentCell.context, radix: 16))
    hash.add("\(CurrentCell.cachedBlocks)")
    hash.add(name)
    hash.add((try? EventJSON.encoder().encode(Random.generator)) ?? Data())
    for (value, saved) in zip(state, entryStates) {
      hash.add("\(type(of: value))")
      hash.add(saved.fingerprint)
    }
    return hash.hex
  }

  /// Writes what the block printed and sends what it showed, in the order it did.
  private func replay(_ entry: CachedEntry) {
    fflush(nil)
    for step in entry.replaySteps(atCellLine: CurrentCell.line) {
      if !step.stdout.isEmpty { writeAll(step.stdout, to: 1) }
      if !step.stderr.isEmpty { writeAll(step.stderr, to: 2) }
      if let event = step.event { Channel.send(event) }
    }
  }
}

extension CachedEntry {
  /// One step of a replay: text for each stream, then an event.
  struct ReplayStep {
    var stdout: Data
    var stderr: Data
    var event: RuntimeEvent?
  }

  /// What a hit writes and sends, in order, with each check's line moved as far as the cell
  /// moved (to `cellLine`) since the recording. Offsets out of order or past the text (an
  /// entry made by hand) give less text, never a trap.
  func replaySteps(atCellLine line: Int) -> [ReplayStep] {
    let shift = line &- cellLine
    var written = (stdout: 0, stderr: 0)
    func take(_ data: Data, from start: inout Int, to end: Int) -> Data {
      let end = min(max(end, start), data.count)
      defer { start = end }
      return data.subdata(in: data.startIndex + start..<data.startIndex + end)
    }
    return outputs.map { output in
      var event = output.event
      if case .check(var check) = event {
        check.line = check.line &+ shift
        event = .check(check)
      }
      return ReplayStep(
        stdout: take(stdout, from: &written.stdout, to: output.stdout),
        stderr: take(stderr, from: &written.stderr, to: output.stderr), event: event)
    }
  }
}

/// Records what a cached block prints and sends while it runs.
final class Recorder {
  nonisolated(unsafe) static var current: Recorder?

  private let start: (stdout: Int, stderr: Int)
  private var outputs: [CachedEntry.Output] = []

  init() {
    fflush(nil)
    start = (Int(lseek(1, 0, SEEK_CUR)), Int(lseek(2, 0, SEEK_CUR)))
  }

  /// Notes `event`, with where the output streams stand.
  func record(_ event: RuntimeEvent) {
    let (stdout, stderr) = offsets()
    outputs.append(.init(stdout: stdout, stderr: stderr, event: event))
  }

  /// What the block wrote to each stream, read back from the files the runner gave the
  /// program, and its events; `nil` when the streams are not files that can be read back.
  func finish() -> (stdout: Data, stderr: Data, outputs: [CachedEntry.Output])? {
    let (stdoutEnd, stderrEnd) = offsets()
    guard start.stdout >= 0, start.stderr >= 0,
      let stdout = readBack(1, from: start.stdout, count: stdoutEnd),
      let stderr = readBack(2, from: start.stderr, count: stderrEnd)
    else { return nil }
    return (stdout, stderr, outputs + [.init(stdout: stdoutEnd, stderr: stderrEnd, event: nil)])
  }

  private func offsets() -> (Int, Int) {
    fflush(nil)
    return (Int(lseek(1, 0, SEEK_CUR)) - start.stdout, Int(lseek(2, 0, SEEK_CUR)) - start.stderr)
  }

  /// `count` bytes of the file open as `descriptor` (write-only), from `offset`: reopened
  /// for reading through its path.
  private func readBack(_ descriptor: Int32, from offset: Int, count: Int) -> Data? {
    guard count >= 0 else { return nil }
    if count == 0 { return Data() }
    #if os(Linux)
      let path = "/proc/self/fd/\(descriptor)"
    #else
      var buffer = [CChar](repeating: 0, count: Int(MAXPATHLEN))
      guard fcntl(descriptor, F_GETPATH, &buffer) == 0 else { return nil }
      let path = String(cString: buffer)
    #endif
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard (try? handle.seek(toOffset: UInt64(offset))) != nil,
      let data = try? handle.read(upToCount: count), data.count == count
    else { return nil }
    return data
  }
}
