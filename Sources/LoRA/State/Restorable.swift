import Foundation

/// A value whose whole state can be saved and later put back in place: a module (its
/// weights, gradients, adapters and flags), an optimizer (its moments and step count) or a
/// tensor. Lesson programs use it to restore what a cached cell computed (`cached` in
/// `LessonRuntime`) instead of computing it again.
///
/// Restoring writes into the existing object, so every reference to it, and to the tensors
/// it already had, stays valid.
public protocol Restorable: AnyObject {
  /// Everything needed to put this value back as it is now.
  func savedState() throws -> SavedState
  /// Puts `state`, saved from a value like this one, back into this value.
  ///
  /// - Throws: `RestoreError` when the state does not fit this value.
  func restore(_ state: SavedState) throws
}

/// The saved state of a `Restorable` value: its structure and flags as JSON, and its numbers
/// as named tensors (so a state can go into a safetensors file as it is).
public struct SavedState {
  /// The structure and flags, as JSON.
  public var layout: Data
  /// The numbers, by name.
  public var tensors: [String: Tensor]

  /// A state from its parts.
  public init(layout: Data, tensors: [String: Tensor]) {
    self.layout = layout
    self.tensors = tensors
  }

  /// A 128-bit hash of the whole state, in hex: equal states hash equally, and a changed
  /// weight, flag or gradient changes it.
  public var fingerprint: String {
    var hash = StateHash()
    hash.add(layout)
    for name in tensors.keys.sorted() {
      hash.add(Data(name.utf8))
      let tensor = tensors[name]!
      hash.add(tensor.shape.map { UInt32(truncatingIfNeeded: $0) })
      tensor.scalars.withUnsafeBufferPointer { values in
        values.withMemoryRebound(to: UInt32.self) { hash.add($0) }
      }
    }
    return hash.hex
  }
}

/// Why a saved state cannot be put back.
public struct RestoreError: Error, CustomStringConvertible, Equatable {
  /// What was being restored and why it failed.
  public let description: String

  /// The error with its message.
  public init(_ description: String) { self.description = description }
}

/// Two independent 64-bit multiply-xorshift hashes over 32-bit words, for fingerprints:
/// fast enough for the weights of a whole model, and stable across runs and platforms.
public struct StateHash {
  private var first: UInt64 = 0x9E37_79B9_7F4A_7C15
  private var second: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  private var count: UInt64 = 0

  /// An empty hash.
  public init() {}

  /// Mixes in `words`.
  public mutating func add(_ words: UnsafeBufferPointer<UInt32>) {
    var a = first
    var b = second
    for word in words {
      let w = UInt64(word)
      a = (a ^ w) &* 0x100_0000_01b3
      b = (b &+ w) &* 0xFF51_AFD7_ED55_8CCD
      b ^= b >> 29
    }
    first = a
    second = b
    count &+= UInt64(words.count)
  }

  /// Mixes in `words`.
  public mutating func add(_ words: [UInt32]) {
    words.withUnsafeBufferPointer { add($0) }
  }

  /// Mixes in `bytes`, with their length, so that two texts never run together: four bytes
  /// to a word (a cache entry of megabytes hashes in a few milliseconds), the last one to
  /// three in a word of their own.
  public mutating func add(_ bytes: Data) {
    let whole = bytes.count / 4
    let words = [UInt32](unsafeUninitializedCapacity: whole + 2) { buffer, initialized in
      bytes.withUnsafeBytes { raw in
        for index in 0..<whole {
          buffer[index] = UInt32(
            littleEndian: raw.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        }
        var tail: UInt32 = 0
        for (shift, byte) in raw[(4 * whole)...].enumerated() {
          tail |= UInt32(byte) << (8 * shift)
        }
        buffer[whole] = tail
      }
      buffer[whole + 1] = UInt32(truncatingIfNeeded: bytes.count) | 0x8000_0000
      initialized = whole + 2
    }
    add(words)
  }

  /// Mixes in `text`.
  public mutating func add(_ text: String) { add(Data(text.utf8)) }

  /// The hash, 32 hex digits.
  public var hex: String {
    func mixed(_ x: UInt64) -> UInt64 {
      var z = x ^ count
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    let digits = [mixed(first), mixed(second)].map { String($0, radix: 16) }
    return digits.map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
  }
}

/// Every module, optimizer and trainable leaf tensor alive in the program, held weakly, so
/// that `cached` can find one that a block changed without listing it.
public enum LiveObjects {
  private final class Entry {
    weak var object: (any Restorable)?
    init(_ object: any Restorable) { self.object = object }
  }
  private static let lock = NSLock()
  nonisolated(unsafe) private static var entries: [Entry] = []
  nonisolated(unsafe) private static var compactAt = 64

  /// Registers `object`; modules and optimizers do it as they are created, tensors when they
  /// first require gradients.
  static func register(_ object: any Restorable) {
    lock.lock()
    defer { lock.unlock() }
    entries.append(Entry(object))
    if entries.count >= compactAt {
      entries.removeAll { $0.object == nil }
      compactAt = max(64, entries.count * 2)
    }
  }

  /// The modules, optimizers and trainable tensors alive now, in the order they registered.
  public static var all: [any Restorable] {
    lock.lock()
    defer { lock.unlock() }
    return entries.compactMap(\.object)
  }
}

extension JSONEncoder {
  /// The encoder for state layouts: sorted keys, so a layout's bytes are stable.
  static var stateLayout: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }
}
