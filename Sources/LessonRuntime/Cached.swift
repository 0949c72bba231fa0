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
///   `Codable`); and the library's random generator, where `body` left it. What `body`
///   printed, checked, tabulated or plotted is replayed, so the cell reads the same.
/// - What the key covers: every cell that ran before this one and this cell's code (the
///   runner compiles a hash of them into the program), the library build and the lesson's
///   data files (the runner fingerprints them), the block's name and its place in the cell,
///   the random generator on entry, and the values of `state` on entry.
/// - What it refuses: a module, optimizer or trainable tensor that `body` changed without
///   listing it in
///   `state`, at run time (`CachedBlockError`); a `var` from outside the block that `body`
///   uses, at compile time (the runner's check). Either would otherwise come back stale.
///   Files that `body` writes are not restored: write them outside the block.
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
    if let store, let (entry, states) = store.load(key),
      let value = try? EventJSON.decoder().decode(Value.self, from: entry.result),
      states.count == state.count
    {
      for (value, saved) in zip(state, states) {
        do { try value.restore(saved) } catch {
          // Only an entry changed by hand can fail to fit: its key covers these values.
          throw CachedBlockError(
            description: "cached(\"\(name)\"): the cached state does not fit: \(error); "
              + "run with --no-cache, or remove \(store.folder)/\(key)")
        }
      }
      Random.generator = entry.generator
      replay(entry)
      return value
    }
    let watched = UnlistedObjects(listed: state)
    let recorder = Recorder()
    Recorder.current = recorder
    let value: Value
    do {
      value = try body()
      Recorder.current = nil
    } catch {
      Recorder.current = nil
      throw error
    }
    if let changed = watched.changed() {
      throw CachedBlockError(
        description: "cached(\"\(name)\") changed \(changed), which it does not list: pass "
          + "it to cached(\"\(name)\", ...) so that a cache hit restores it too")
    }
    guard let store, let (stdout, stderr, outputs) = recorder.finish() else { return value }
    let exitStates = try state.map { try $0.savedState() }
    let entry = CachedEntry(
      // The events' dialect, in which a diverged loss (NaN, ±∞) survives the trip.
      name: name, cellLine: CurrentCell.line, result: try EventJSON.encoder().encode(value),
      generator: Random.generator, stdout: stdout, stderr: stderr, outputs: outputs,
      layouts: exitStates.map(\.layout))
    // A cache that cannot be written (a full disk) costs the next run time, nothing more.
    try? store.save(entry, states: exitStates, as: key)
    return value
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

  /// Writes what the block printed and sends what it showed, in the order it did, with
  /// each check's line moved as far as the cell moved since the recording.
  private func replay(_ entry: CachedEntry) {
    let shift = CurrentCell.line - entry.cellLine
    fflush(nil)
    var written = (stdout: 0, stderr: 0)
    for output in entry.outputs {
      written.stdout = emit(entry.stdout, from: written.stdout, to: output.stdout, on: 1)
      written.stderr = emit(entry.stderr, from: written.stderr, to: output.stderr, on: 2)
      guard var event = output.event else { continue }
      if case .check(var check) = event {
        check.line += shift
        event = .check(check)
      }
      Channel.send(event)
    }
  }

  /// Writes bytes `start..<end` of `data` to `descriptor` (whose buffered stream is
  /// flushed); returns where it stopped.
  private func emit(_ data: Data, from start: Int, to end: Int, on descriptor: Int32) -> Int {
    let end = min(max(end, start), data.count)
    guard end > start else { return start }
    writeAll(data[data.startIndex + start..<data.startIndex + end], to: descriptor)
    return end
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

/// The modules, optimizers and trainable tensors alive before a block that it does not list
/// (nor holds inside one it lists), with their fingerprints, to find one the block changed.
struct UnlistedObjects {
  private var before: [(object: any Restorable, fingerprint: String)] = []

  init(listed: [any Restorable]) {
    var covered = Set<ObjectIdentifier>()
    for value in listed {
      covered.insert(ObjectIdentifier(value))
      if let module = value as? Module {
        for (_, child) in module.namedModules { covered.insert(ObjectIdentifier(child)) }
        for parameter in module.parameters { covered.insert(ObjectIdentifier(parameter)) }
      }
    }
    let live = LiveObjects.all
    // A module inside another live one, or a parameter of one, is fingerprinted with it.
    var inner = Set<ObjectIdentifier>()
    for case let module as Module in live {
      for (name, child) in module.namedModules where !name.isEmpty {
        inner.insert(ObjectIdentifier(child))
      }
      for parameter in module.parameters { inner.insert(ObjectIdentifier(parameter)) }
    }
    for object in live
    where !covered.contains(ObjectIdentifier(object)) && !inner.contains(ObjectIdentifier(object)) {
      before.append((object, Self.fingerprint(object)))
    }
  }

  /// The first of them the block changed, described, or `nil`.
  func changed() -> String? {
    for (object, fingerprint) in before where Self.fingerprint(object) != fingerprint {
      if let module = object as? Module {
        let count = module.parameters.reduce(0) { $0 + $1.count }
        return "a \(type(of: module)) with \(count) parameter values"
      }
      if let optimizer = object as? Optimizer {
        return "an optimizer (\(type(of: optimizer))) over \(optimizer.parameters.count) tensors"
      }
      if let tensor = object as? Tensor {
        return "a trainable tensor of shape \(tensor.shape) (its values or its gradient)"
      }
      return "a \(type(of: object))"
    }
    return nil
  }

  private static func fingerprint(_ object: any Restorable) -> String {
    (try? object.savedState().fingerprint) ?? "cannot be saved"
  }
}
