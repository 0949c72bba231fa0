import Foundation

/// Named tensors in the safetensors format, the file format of PEFT adapters and of most
/// checkpoints on the Hugging Face hub.
///
/// The layout, exactly as the format's specification gives it: an unsigned 64-bit
/// little-endian header length N; N bytes of UTF-8 JSON mapping each name to its `dtype`,
/// `shape` and `data_offsets` (begin and end within the data, which follow the header),
/// plus an optional `__metadata__` map of strings, padded with spaces to a multiple of 8
/// bytes; then the data, each tensor contiguous and row-major, with no gaps.
///
/// Writing uses F32. Reading accepts F32, F16 and BF16,
/// converting to F32, and U8 and I8 as bytes (a quantized model's codes), and checks every
/// offset against the file, so a truncated or corrupt file is an error, not a crash.
public struct Safetensors {
  /// The tensors by name.
  public var tensors: [String: Tensor]
  /// The U8 and I8 tensors by name, as bytes: a 4-bit model's packed codes and its JSON
  /// quantization state, an 8-bit model's weights.
  public var byteTensors: [String: ByteTensor] = [:]
  /// Free-form string metadata; PyTorch writers put `{"format": "pt"}`.
  public var metadata: [String: String]

  /// A collection to be written.
  public init(tensors: [String: Tensor], metadata: [String: String] = ["format": "pt"]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Reads and checks the file at `url`.
  public init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw SafetensorsError(
        file: url.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    try self.init(data: data, source: url.path)
  }

  /// Decodes and checks a safetensors buffer; `source` names it in error messages.
  public init(data: Data, source: String = "safetensors data") throws {
    func fail(_ reason: String) -> SafetensorsError {
      SafetensorsError(file: source, reason: reason)
    }
    let bytes = [UInt8](data)
    guard bytes.count >= 8 else {
      throw fail("is \(bytes.count) bytes long, too short for the 8-byte header length")
    }
    let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(bytes.count - 8), headerLength <= 100_000_000 else {
      throw fail(
        "declares a \(headerLength)-byte header but has only \(bytes.count - 8) bytes after "
          + "the length; the file is truncated or not safetensors")
    }
    let dataStart = 8 + Int(headerLength)
    let header = Data(bytes[8..<dataStart])
    guard
      let object = try? JSONSerialization.jsonObject(with: header),
      let entries = object as? [String: Any]
    else {
      throw fail("has a header that is not a JSON object")
    }
    var tensors: [String: Tensor] = [:]
    var byteTensors: [String: ByteTensor] = [:]
    var metadata: [String: String] = [:]
    var ranges: [(name: String, range: Range<Int>)] = []
    let dataLength = bytes.count - dataStart
    for (name, value) in entries {
      if name == "__metadata__" {
        guard let map = value as? [String: String] else {
          throw fail("has __metadata__ that is not a map of strings")
        }
        metadata = map
        continue
      }
      guard let entry = value as? [String: Any],
        let dtype = entry["dtype"] as? String,
        let shape = entry["shape"] as? [Int],
        let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
      else {
        throw fail("has a malformed entry for tensor '\(name)' (needs dtype, shape, data_offsets)")
      }
      guard let elementSize = Self.elementSizes[dtype] else {
        throw fail(
          "stores tensor '\(name)' as \(dtype); only F32, F16, BF16, U8 and I8 can be read")
      }
      guard shape.allSatisfy({ $0 >= 0 }) else {
        throw fail("gives tensor '\(name)' a negative dimension in shape \(shape)")
      }
      let (begin, end) = (offsets[0], offsets[1])
      // A corrupt or hostile header can declare a shape whose size overflows Int.
      let expected = shape.reduce(Optional(elementSize)) { product, dimension in
        product.flatMap {
          let (value, overflow) = $0.multipliedReportingOverflow(by: dimension)
          return overflow ? nil : value
        }
      }
      guard let expected else {
        throw fail(
          "gives tensor '\(name)' shape \(shape), whose size overflows; the file is corrupt")
      }
      guard begin >= 0, begin <= end, end <= dataLength else {
        throw fail(
          "places tensor '\(name)' at bytes \(begin)..<\(end), outside the \(dataLength) bytes "
            + "of data; the file is truncated or corrupt")
      }
      guard end - begin == expected else {
        throw fail(
          "gives tensor '\(name)' of shape \(shape) and dtype \(dtype) \(end - begin) bytes; "
            + "it needs \(expected)")
      }
      ranges.append((name, begin..<end))
      if dtype == "U8" || dtype == "I8" {
        byteTensors[name] = ByteTensor(
          dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
        continue
      }
      let scalars = bytes.withUnsafeBufferPointer { buffer in
        Self.decode(
          UnsafeRawBufferPointer(
            rebasing: UnsafeRawBufferPointer(buffer)[(dataStart + begin)..<(dataStart + end)]),
          dtype: dtype)
      }
      tensors[name] = Tensor(shape: shape, scalars: scalars)
    }
    // The specification forbids holes and overlaps: the ranges must tile the data exactly.
    var position = 0
    // Empty tensors sit at the offset where the next one starts; sort them first.
    let ordered = ranges.sorted {
      ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound)
    }
    for (name, range) in ordered {
      guard range.lowerBound == position else {
        throw fail(
          "has tensor '\(name)' at byte \(range.lowerBound) where byte \(position) was expected; "
            + "tensor data overlaps or leaves a gap")
      }
      position = range.upperBound
    }
    guard position == dataLength else {
      throw fail("has \(dataLength - position) bytes of data after the last tensor")
    }
    self.tensors = tensors
    self.byteTensors = byteTensors
    self.metadata = metadata
  }

  /// The file's bytes: F32 tensors in name order.
  public func encoded() -> Data {
    let names = tensors.keys.sorted()
    var entries: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    var offset = 0
    for name in names {
      let tensor = tensors[name]!
      let size = tensor.count * MemoryLayout<Float>.size
      entries.append(
        "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":\(tensor.shape),"
          + "\"data_offsets\":[\(offset),\(offset + size)]}")
      offset += size
    }
    var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    // Pad with spaces so that the data starts on an 8-byte boundary.
    header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
    var data = Data(capacity: 8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: header)
    // Every platform Swift runs on is little-endian, as the format is, so bytes copy as they are.
    for name in names {
      tensors[name]!.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    return data
  }

  /// Writes the file atomically: a reader never sees a half-written file, and a failed write
  /// leaves any earlier file in place.
  public func write(to url: URL) throws {
    do {
      try FileWrites.write(encoded(), to: url)
    } catch {
      throw SafetensorsError(
        file: url.path, reason: "cannot be written (\(error.localizedDescription))")
    }
  }

  private static let elementSizes = ["F32": 4, "F16": 2, "BF16": 2, "U8": 1, "I8": 1]

  private static func decode(_ raw: UnsafeRawBufferPointer, dtype: String) -> [Float] {
    switch dtype {
    case "F32":
      return [Float](unsafeUninitializedCapacity: raw.count / 4) { buffer, count in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        count = raw.count / 4
      }
    case "BF16":
      return (0..<(raw.count / 2)).map {
        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))
        return Float(bitPattern: UInt32(bits) << 16)
      }
    default:  // F16
      return (0..<(raw.count / 2)).map {
        halfToFloat(
          UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)))
      }
    }
  }
}

/// A tensor of bytes from a safetensors file: `U8` (unsigned) or `I8` (two's complement).
public struct ByteTensor: Sendable, Equatable {
  /// `"U8"` or `"I8"`.
  public let dtype: String
  /// The size of each dimension.
  public let shape: [Int]
  /// The elements, row-major.
  public let bytes: [UInt8]
}

/// A safetensors file that cannot be read or written, with the reason.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
  /// The file's path.
  public let file: String
  /// What is wrong.
  public let reason: String

  /// A message naming what went wrong and where.
  public var description: String { "\(file) \(reason)" }
}

/// An IEEE half-precision value as a Float (portable: `Float16` is missing on some platforms).
func halfToFloat(_ bits: UInt16) -> Float {
  let sign: Float = bits & 0x8000 != 0 ? -1 : 1
  let exponent = Int((bits >> 10) & 0x1F)
  let fraction = Float(bits & 0x3FF)
  switch exponent {
  case 0: return sign * fraction * 0x1p-24  // subnormal
  case 31: return fraction == 0 ? sign * .infinity : .nan
  default:
    return sign * (1 + fraction / 1024)
      * Float(sign: .plus, exponent: exponent - 15, significand: 1)
  }
}

/// `value` as a JSON string literal.
func jsonString(_ value: String) -> String {
  var result = "\""
  for scalar in value.unicodeScalars {
    switch scalar {
    case "\"": result += "\\\""
    case "\\": result += "\\\\"
    case "\n": result += "\\n"
    case "\r": result += "\\r"
    case "\t": result += "\\t"
    case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
    default: result.unicodeScalars.append(scalar)
    }
  }
  return result + "\""
}
