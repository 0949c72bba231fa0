import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The runner's end of a program's event channel: drained as the program runs, so the
/// pipe never fills, and nothing the program sent can be changed once it is read.
struct EventPipe {
  let descriptor: Int32
  /// The run's key: lines without it are ignored.
  let key: String
  /// Every line so far that carried the key, in order.
  private(set) var lines: [ChannelLine] = []
  /// The latest state of the progress bar that is running, if one is.
  private(set) var progress: RuntimeEvent?
  /// Bytes read so far, for the output limit.
  private(set) var byteCount = 0
  private var partialLine: [UInt8] = []

  init(descriptor: Int32, key: String) {
    self.descriptor = descriptor
    self.key = key
  }

  /// Reads what has arrived, without waiting: up to 1 MiB a call, so that a program
  /// that floods the pipe cannot keep the runner from its other duties.
  mutating func drain() {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    for _ in 0..<16 {
      let count = read(descriptor, &buffer, buffer.count)
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { return }
      byteCount += count
      var chunk = partialLine + buffer[..<count]
      guard let end = chunk.lastIndex(of: UInt8(ascii: "\n")) else {
        partialLine = chunk
        continue
      }
      partialLine = Array(chunk[(end + 1)...])
      chunk.removeSubrange((end + 1)...)
      for line in decodeChannelLines(Data(chunk), key: key) {
        lines.append(line)
        if case .event(_, let event) = line.message,
          case .progress(_, let done, let total, _) = event
        {
          progress = done >= total ? nil : event
        }
      }
    }
  }

  /// Reads the rest and closes the pipe.
  mutating func finish() {
    var before = -1
    while byteCount != before {
      before = byteCount
      drain()
    }
    close(descriptor)
  }
}

/// The lines of `data` that are in the channel's schema and carry `key`; anything else is
/// not the runtime's, and is ignored.
func decodeChannelLines(_ data: Data, key: String) -> [ChannelLine] {
  data.split(separator: UInt8(ascii: "\n")).compactMap { text in
    guard let line = try? ChannelLine(decoding: Data(text)), line.key == key else { return nil }
    return line
  }
}
