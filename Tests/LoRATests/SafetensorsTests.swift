import Foundation
import Testing

@testable import LoRA

@Suite("Safetensors files")
struct SafetensorsTests {
  @Test func layoutFollowsTheSpecification() throws {
    let file = Safetensors(tensors: [
      "b": Tensor([1, 2]), "a": Tensor([[3, 4, 5]]),
    ])
    let bytes = [UInt8](file.encoded())
    let headerLength = Int(
      bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.1) << (8 * UInt64($1.0)) })
    #expect((8 + headerLength) % 8 == 0)
    let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
    #expect(
      header.trimmingCharacters(in: .whitespaces)
        == #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1, 3],"data_offsets":[0,12]},"#
        + #""b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#)
    #expect(header.hasSuffix(" ") || header.hasSuffix("}"))
    #expect(bytes.count == 8 + headerLength + 20)
    // a's data first, little-endian float32: 3.0 = 0x40400000.
    #expect(Array(bytes[(8 + headerLength)..<(8 + headerLength + 4)]) == [0, 0, 0x40, 0x40])
  }

  @Test func roundTripsExactly() throws {
    let tensor = Random.withSeed(1) { Tensor.randn([3, 5, 2]) }
    let file = Safetensors(tensors: ["weight": tensor, "empty": Tensor.zeros([0, 4])])
    let decoded = try Safetensors(data: file.encoded())
    #expect(decoded.tensors["weight"]!.scalars == tensor.scalars)
    #expect(decoded.tensors["weight"]!.shape == [3, 5, 2])
    #expect(decoded.tensors["empty"]!.shape == [0, 4])
    #expect(decoded.metadata == ["format": "pt"])
  }

  @Test func readsHalfAndBFloat16() throws {
    // 1.0 in F16 is 0x3C00; -2.0 in BF16 is 0xC000.
    let header =
      #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#
    var bytes = [UInt8]()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
    bytes += Array(header.utf8) + [0x00, 0x3C, 0x00, 0xC0]
    let file = try Safetensors(data: Data(bytes))
    #expect(file.tensors["h"]!.scalars == [1])
    #expect(file.tensors["b"]!.scalars == [-2])
    #expect(halfToFloat(0x7BFF) == 65504)
    #expect(halfToFloat(0x0001) == 0x1p-24)
  }

  @Test func truncatedFilesAreErrors() throws {
    let data = Safetensors(tensors: ["w": Tensor.ones([4, 4])]).encoded()
    for length in [0, 5, 8, 20, data.count - 1] {
      #expect(throws: SafetensorsError.self) { try Safetensors(data: data.prefix(length)) }
    }
    do {
      _ = try Safetensors(data: data.prefix(data.count - 4), source: "w.safetensors")
      Issue.record("a truncated file was accepted")
    } catch let error as SafetensorsError {
      #expect(error.description.hasPrefix("w.safetensors places tensor 'w' at bytes 0..<64"))
      #expect(error.description.contains("truncated or corrupt"))
    }
  }

  @Test func corruptHeadersAreErrors() throws {
    func file(_ header: String, dataBytes: Int) -> Data {
      var bytes = [UInt8]()
      withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
      return Data(bytes + Array(header.utf8) + [UInt8](repeating: 0, count: dataBytes))
    }
    let cases: [(String, Int, String)] = [
      ("not json", 0, "not a JSON object"),
      (#"{"w":{"dtype":"F32","shape":[2]}}"#, 8, "malformed entry for tensor 'w'"),
      (
        #"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, 8,
        "only F32, F16, BF16, U8 and I8"
      ),
      (#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "it needs 12"),
      (
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        12, "overlaps or leaves a gap"
      ),
      (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "4 bytes of data after"),
      // 2^62 × 4 elements of 4 bytes overflows Int: once a trap (SIGILL) in every loader.
      (
        #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8,
        "whose size overflows"
      ),
      (
        #"{"w":{"dtype":"F16","shape":[3037000500,3037000500,2],"data_offsets":[0,8]}}"#, 8,
        "whose size overflows"
      ),
    ]
    for (header, dataBytes, expected) in cases {
      do {
        _ = try Safetensors(data: file(header, dataBytes: dataBytes))
        Issue.record("accepted: \(header)")
      } catch let error as SafetensorsError {
        #expect(error.reason.contains(expected), "\(error.reason)")
      }
    }
    var huge = [UInt8](repeating: 0xFF, count: 8)
    huge += [0x7B, 0x7D]
    #expect(throws: SafetensorsError.self) { try Safetensors(data: Data(huge)) }
  }

  @Test func writesAtomicallyAndReportsMissingFiles() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("w.safetensors")
    try Safetensors(tensors: ["w": Tensor([1])]).write(to: url)
    try Safetensors(tensors: ["w": Tensor([2])]).write(to: url)
    #expect(try Safetensors(contentsOf: url).tensors["w"]!.scalars == [2])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    #expect(leftovers == ["w.safetensors"])
    #expect(throws: SafetensorsError.self) {
      try Safetensors(contentsOf: directory.appendingPathComponent("missing.safetensors"))
    }
  }
}
