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
}

/// Marks the start of cell `index`. Generated lesson programs call this between cells; it
/// flushes what the last cell printed and tells the runner where this cell's output starts
/// in the standard output and error files, so every byte is attributed to its cell.
///
/// `token` is a number the runner chose for this cell when it generated the program; the
/// runner believes a marker only with the right one, so cell code that calls this itself
/// (to claim that later cells ran) is caught.
public func _lessonCellStarted(_ index: Int, token: UInt64) {
  Channel.connect()
  fflush(nil)  // every output stream
  CurrentCell.index = index
  Channel.send(.cellStarted(cell: index, token: String(token, radix: 16)))
}

/// Marks the end of the last cell: every cell ran to the end.
public func _lessonFinished(token: UInt64) {
  fflush(nil)  // every output stream
  Channel.send(.finished(token: String(token, radix: 16)))
}
