internal import CKernels
import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks and runs `body` on each, on every core at
/// once when there is enough work to pay for waking the threads; otherwise in one call on
/// the calling thread.
///
/// The matrix products already use every core (OpenBLAS); what ran on one core between
/// them (softmax, element-wise functions and their gradients) was about a third of a GPT
/// training step on two cores. `body` must only write where its own range says.
///
/// - Parameters:
///   - count: the items: rows, or elements.
///   - minimumPerChunk: the fewest items worth a thread of their own; about 16,000 cheap
///     element operations (some microseconds of work, against a few to wake a thread).
@inline(__always)
func parallelChunks(_ count: Int, minimumPerChunk: Int, _ body: (Range<Int>) -> Void) {
  // A few chunks per core, claimed as threads come free: a core slowed by anything (its
  // other hyperthread, another process, the memory it shares) takes fewer, rather than
  // holding up the loop with a half of its own.
  let chunks = min(Parallel.cores * 4, count / max(1, minimumPerChunk))
  guard chunks > 1 else {
    body(0..<count)
    return
  }
  let size = (count + chunks - 1) / chunks
  // Rounding the size up can leave fewer chunks than asked (10 items in 8 chunks are 5 of 2).
  parallelFor((count + size - 1) / size) { chunk in
    let start = chunk * size
    body(start..<min(count, start + size))
  }
}

/// Runs `body(index)` for every index in `0..<count`, spread over every core, and returns
/// when all have run: on the library's worker pool (`pool.c`), whose helpers are still
/// awake when loops follow each other closely; on Dispatch's threads when the pool is busy
/// (a loop started by another thread, or by an item of this one). `body` must only write
/// what its own index says.
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
  guard !runOnPool(count, body) else { return }
  withoutActuallyEscaping(body) { body in
    let sendable = UncheckedSendable(body)
    DispatchQueue.concurrentPerform(iterations: count) { sendable.value($0) }
  }
}

/// Runs `body(index)` for every index in `0..<count` on the library's worker pool and
/// returns true, or runs nothing and returns false when the pool is busy with another loop.
func runOnPool(_ count: Int, _ body: (Int) -> Void) -> Bool {
  withoutActuallyEscaping(body) { body in
    var work = body
    return withUnsafeMutablePointer(to: &work) { work in
      lora_pool_run(count, Int32(Parallel.cores), work) { context, index in
        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
      } != 0
    }
  }
}

/// How many cores the chunks use.
enum Parallel {
  static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// A value handed to the chunks' threads, which touch disjoint parts of what it reaches.
struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
