/// A 64-bit FNV-1a hash in hex: stable across runs and platforms, unlike `Hasher`.
public func stableHash(_ text: String) -> String {
  var hash = StableHash()
  hash.add(text)
  return hash.hex
}

/// The running state of `stableHash`: text added piece by piece hashes as the pieces joined,
/// so a prefix's hash costs nothing extra to read on the way.
struct StableHash {
  private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  mutating func add(_ text: String) {
    for byte in text.utf8 {
      value ^= UInt64(byte)
      value = value &* 0x100_0000_01b3
    }
  }

  mutating func add(_ bytes: UnsafeRawBufferPointer) {
    for byte in bytes {
      value ^= UInt64(byte)
      value = value &* 0x100_0000_01b3
    }
  }

  var hex: String { String(value, radix: 16) }
}
