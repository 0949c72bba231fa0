import Foundation
import LessonEvents

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Which cell of the lesson is running, for attributing checks.
enum CurrentCell {
  nonisolated(unsafe) static var index = -1
  /// A hash of this cell's code and of every cell's before it, which the runner compiles
  /// into the program: what a cached block's key says about the code that led to it.
  nonisolated(unsafe) static var context: UInt64 = 0
  /// The lesson line where the cell's code starts.
  nonisolated(unsafe) static var line = 0
  /// How many `cached` blocks the cell has started, so two in one cell have keys of their own.
  nonisolated(unsafe) static var cachedBlocks = 0
}

/// Marks the start of cell `index`. Generated lesson programs call this between cells; it
/// flushes what the last cell printed and tells the runner where this cell's output starts
/// in the standard output and error files, so every byte is attributed to its cell.
///
/// `token` is a number the runner chose for this cell when it generated the program; the
/// runner believes a marker only with the right one, so cell code that calls this itself
/// (to claim that later cells ran) is caught. `context` hashes the code of this cell and of
/// every cell before it, and `line` is where the cell's code starts in the lesson: what
/// cached blocks key and replay by.
public func _lessonCellStarted(_ index: Int, token: UInt64, context: UInt64 = 0, line: Int = 0) {
  Channel.connect()
  fflush(nil)  // every output stream
  CurrentCell.index = index
  CurrentCell.context = context
  CurrentCell.line = line
  CurrentCell.cachedBlocks = 0
  Channel.send(.cellStarted(cell: index, token: String(token, radix: 16)))
}

/// Marks the end of the last cell: every cell ran to the end.
public func _lessonFinished(token: UInt64) {
  fflush(nil)  // every output stream
  Channel.send(.finished(token: String(token, radix: 16)))
}
