import Foundation
import Testing

@testable import LoRA

/// The adapter readers on corrupted copies of real PEFT files: every mutation must give a
/// value or an error, never a trap. Seeded, so a failure repeats; a stand-in until the
/// libFuzzer targets exist, not a replacement for them.
@Suite("Corrupt adapter files never trap")
struct CorruptFileTests {
  static let adapters = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/torch/adapters")

  static var files: [URL] {
    let enumerator = FileManager.default.enumerator(atPath: adapters.path)!
    return enumerator.compactMap { $0 as? String }
      .filter { $0.hasSuffix(".json") || $0.hasSuffix(".safetensors") }
      .filter { !$0.hasSuffix("expected.json") }.sorted()
      .map { adapters.appendingPathComponent($0) }
  }

  @Test func mutatedConfigsAndWeightsAreValuesOrErrors() throws {
    var generator = RandomGenerator(seed: 2026)
    var outcomes = (values: 0, errors: 0)
    // 300 per file in CI; LORA_MUTATIONS=20000 for a longer campaign by hand.
    let count = Int(ProcessInfo.processInfo.environment["LORA_MUTATIONS"] ?? "") ?? 300
    for file in Self.files {
      let original = [UInt8](try Data(contentsOf: file))
      for _ in 0..<count {
        let bytes = mutate(original, using: &generator)
        do {
          if file.pathExtension == "json" {
            _ = try AdapterConfig(json: JSONValue(parsing: Data(bytes)), path: file.path)
          } else {
            _ = try Safetensors(data: Data(bytes))
          }
          outcomes.values += 1
        } catch {
          outcomes.errors += 1
        }
      }
    }
    // Both kinds happen, so the mutations reach past the first check.
    print("corrupt adapter files: \(outcomes.values) read, \(outcomes.errors) refused, no trap")
    #expect(outcomes.values > 0 && outcomes.errors > 0, "\(outcomes)")
  }

  @Test func deepNestingIsAnErrorNotAStackOverflow() throws {
    for depth in [100, 10_000, 200_000] {
      let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
      #expect(throws: (any Error).self) {
        _ = try AdapterConfig(
          json: JSONValue(parsing: Data(("{\"target_modules\": \(text)}").utf8)), path: "deep")
      }
    }
  }

  @Test func keysAndStringsFullOfEscapesKeepTheirOrder() throws {
    let json = #"{"b\"}": 1, "a\\": {"\u0041\n": [true, null, "x\"{"]}, "{": 2}"#
    guard case .object(let pairs) = try JSONValue(parsing: Data(json.utf8)) else {
      Issue.record("not an object")
      return
    }
    #expect(pairs.map(\.key) == ["b\"}", "a\\", "{"])
    #expect(pairs[1].value == .object([("A\n", .array([.bool(true), .null, .string("x\"{")]))]))
  }
}

/// One random corruption: a flipped byte, a deleted or repeated range, a random byte put
/// in, or a cut.
private func mutate(_ bytes: [UInt8], using generator: inout RandomGenerator) -> [UInt8] {
  var bytes = bytes
  guard !bytes.isEmpty else { return [UInt8(truncatingIfNeeded: generator.next())] }
  let position = Int(generator.next() % UInt64(bytes.count))
  let length = min(Int(generator.next() % 16) + 1, bytes.count - position)
  switch generator.next() % 5 {
  case 0: bytes[position] ^= UInt8(1 << (generator.next() % 8))
  case 1: bytes.removeSubrange(position..<(position + length))
  case 2: bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
  case 3: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
  default: bytes.removeSubrange(position...)
  }
  return bytes
}
