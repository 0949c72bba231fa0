import Foundation
import LessonKit

/// Results filled in by concurrent workers, each at its own index, under a lock.
private final class ConcurrentResults<R>: @unchecked Sendable {
  var values: [R?]
  let lock = NSLock()
  init(count: Int) { values = Array(repeating: nil, count: count) }
}

/// Runs `work` on every item, at most `jobs` at a time, and returns the results in order.
public func concurrentMap<T: Sendable, R: Sendable>(
  _ items: [T], jobs: Int, _ work: @escaping @Sendable (T) -> R
) -> [R] {
  let results = ConcurrentResults<R>(count: items.count)
  let slots = DispatchSemaphore(value: max(1, jobs))
  let group = DispatchGroup()
  for (index, item) in items.enumerated() {
    slots.wait()
    DispatchQueue.global().async(group: group) {
      let value = work(item)
      results.lock.withLock { results.values[index] = value }
      slots.signal()
    }
  }
  group.wait()
  return results.values.map { $0! }
}
