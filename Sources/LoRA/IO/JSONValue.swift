import Foundation

/// A JSON document whose objects keep their keys in file order.
///
/// PEFT's `rank_pattern` and `alpha_pattern` are matched in the order of their keys (the first
/// key that matches a module wins), and Python keeps a JSON object's order, so reading them
/// right needs that order; Foundation's decoders give dictionaries without it. So
/// `JSONSerialization` checks the syntax and decodes the values, and a scan of the text
/// recovers each object's key order. Nesting is limited, so no input exhausts the stack.
public enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  /// Key-value pairs in file order.
  case object([(key: String, value: JSONValue)])

  /// Whether two documents are the same, objects compared with their key order.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.number(let a), .number(let b)): return a == b
    case (.string(let a), .string(let b)): return a == b
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)):
      return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: return false
    }
  }

  /// The value of `key` in an object, or `nil`.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let pairs) = self else { return nil }
    return pairs.first { $0.key == key }?.value
  }

  /// Parses a UTF-8 JSON document.
  /// - Throws: `JSONValue.ParseError` with the byte offset of the problem.
  public init(parsing data: Data) throws {
    // JSONSerialization validates the syntax and decodes strings and numbers; the
    // order of object keys is then read from the token stream below.
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(
        with: data, options: [.fragmentsAllowed])
    } catch {
      throw ParseError(reason: "is not valid JSON (\(error.localizedDescription))")
    }
    var orders = try KeyOrderScanner(Array(data)).scan()
    self = try JSONValue(object, orders: &orders, depth: 0)
  }

  /// A JSON document that could not be parsed.
  public struct ParseError: Error, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let reason: String
    /// The message.
    public var description: String { reason }
  }

  /// The deepest nesting accepted; PEFT's files nest three levels.
  static let maximumDepth = 64

  private init(_ object: Any, orders: inout [[String]], depth: Int) throws {
    guard depth <= JSONValue.maximumDepth else {
      throw ParseError(reason: "nests deeper than \(JSONValue.maximumDepth) levels")
    }
    switch object {
    case is NSNull: self = .null
    case let string as String: self = .string(string)
    case let number as NSNumber:
      // JSONSerialization gives booleans as NSNumber too; tell them apart by their type.
      if String(cString: number.objCType) == "c" {
        self = .bool(number.boolValue)
      } else {
        self = .number(number.doubleValue)
      }
    case let array as [Any]:
      self = .array(try array.map { try JSONValue($0, orders: &orders, depth: depth + 1) })
    case let dictionary as [String: Any]:
      guard !orders.isEmpty else { throw ParseError(reason: "has an object the scanner missed") }
      let keys = orders.removeFirst()
      var pairs: [(key: String, value: JSONValue)] = []
      for key in keys where !pairs.contains(where: { $0.key == key }) {
        guard let value = dictionary[key] else { continue }
        pairs.append((key, try JSONValue(value, orders: &orders, depth: depth + 1)))
      }
      self = .object(pairs)
    default:
      throw ParseError(reason: "holds a value of an unknown kind")
    }
  }

  /// JSON text, with objects in their order, two-space indented as PEFT writes it.
  public func serialized(indent: Int = 0) -> String {
    let pad = String(repeating: " ", count: indent + 2)
    let close = String(repeating: " ", count: indent)
    switch self {
    case .null: return "null"
    case .bool(let value): return value ? "true" : "false"
    case .number(let value):
      if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
      return "\(value)"
    case .string(let value): return jsonString(value)
    case .array(let values):
      if values.isEmpty { return "[]" }
      return "[\n"
        + values.map { pad + $0.serialized(indent: indent + 2) }
        .joined(separator: ",\n") + "\n\(close)]"
    case .object(let pairs):
      if pairs.isEmpty { return "{}" }
      return "{\n"
        + pairs.map { "\(pad)\(jsonString($0.key)): \($0.value.serialized(indent: indent + 2))" }
        .joined(separator: ",\n") + "\n\(close)}"
    }
  }
}

/// Lists the keys of every object in a valid JSON text, objects in the order of their
/// opening braces, which is the order `JSONValue` visits them in (depth first).
private struct KeyOrderScanner {
  let bytes: [UInt8]
  init(_ bytes: [UInt8]) { self.bytes = bytes }

  func scan() throws -> [[String]] {
    var orders: [[String]] = []
    // For each open container: whether it is an object, and its index in `orders`.
    var stack: [(isObject: Bool, index: Int)] = []
    var expectingKey = false
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "{"):
        orders.append([])
        stack.append((true, orders.count - 1))
        expectingKey = true
      case UInt8(ascii: "["):
        stack.append((false, -1))
        expectingKey = false
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        _ = stack.popLast()
        expectingKey = false
      case UInt8(ascii: ","):
        expectingKey = stack.last?.isObject ?? false
      case UInt8(ascii: "\""):
        let start = index
        index += 1
        while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
          index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
        }
        if expectingKey, let container = stack.last, container.isObject {
          let literal = Data(bytes[start...min(index, bytes.count - 1)])
          guard
            let key = try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed)
              as? String
          else { throw JSONValue.ParseError(reason: "has an unreadable key at byte \(start)") }
          orders[container.index].append(key)
          expectingKey = false
        }
      default: break
      }
      index += 1
    }
    return orders
  }
}
