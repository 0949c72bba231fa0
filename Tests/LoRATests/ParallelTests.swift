import CKernels
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import LoRA

/// The worker pool under `parallelFor`: every item runs exactly once, whoever calls, however
/// often, and from inside another loop.
@Suite("Parallel loops")
struct ParallelTests {
  /// Runs a loop of `count` items that count their own runs; returns the counts.
  func runCounts(_ count: Int) -> [Int] {
    let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
    defer { runs.deallocate() }
    runs.initialize(repeating: 0)
    parallelFor(count) { index in runs[index] += 1 }
    return Array(runs)
  }

  @Test func everyItemRunsExactlyOnceInLoopsOfEverySize() {
    for count in [0, 1, 2, 3, 7, 64, 1000] {
      for _ in 0..<200 {
        let counts = runCounts(count)
        #expect(counts == [Int](repeating: 1, count: count), "\(count) items")
        if counts != [Int](repeating: 1, count: count) { return }
      }
    }
  }

  /// A helper that wakes late for one loop must not claim the next loop's items under the
  /// old loop's number: they ran twice, once after `parallelFor` had returned, which
  /// crashed a lesson now and then on a loaded machine. The pool's test pauses make that
  /// lateness happen on every few loops; small and large loops alternate, as they do in a
  /// training step.
  @Test(.enabled(if: Parallel.cores > 1))
  func aHelperLateFromTheLastLoopNeverRunsItemsOfTheNext() {
    lora_pool_test_pauses(1)
    defer { lora_pool_test_pauses(0) }
    var wrong = 0
    let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
    defer { runs.deallocate() }
    let giveUp = DispatchTime.now().uptimeNanoseconds + 120_000_000_000
    for round in 0..<3000 {
      let count = round % 2 == 0 ? 2 + round % 5 : 40 + round % 13
      runs.initialize(repeating: 0)
      // On the pool itself, not on Dispatch when another test's loop holds it.
      while !runOnPool(count, { index in runs[index] += 1 }) {
        guard DispatchTime.now().uptimeNanoseconds < giveUp else {
          Issue.record("other tests' loops held the pool for two minutes")
          return
        }
        usleep(100)
      }
      if runs.prefix(count).contains(where: { $0 != 1 })
        || runs[count...].contains(where: { $0 != 0 })
      {
        wrong += 1
      }
    }
    #expect(wrong == 0, "\(wrong) of 3000 loops ran an item twice or not at all")
  }

  @Test func chunksCoverEveryItemOnceWhateverTheCountAndMinimum() {
    for count in [0, 1, 2, 5, 9, 10, 11, 17, 63, 64, 65, 1000] {
      for minimum in [1, 2, 3, 7, 100] {
        let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { runs.deallocate() }
        runs.initialize(repeating: 0)
        parallelChunks(count, minimumPerChunk: minimum) { range in
          for index in range { runs[index] += 1 }
        }
        #expect(Array(runs) == [Int](repeating: 1, count: count), "\(count) by \(minimum)")
      }
    }
  }

  @Test func loopsFromManyThreadsAtOnceEachRunWhole() {
    // The pool takes one loop at a time; the others run on Dispatch, and none is lost.
    let failures = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: 8) { _ in
      for round in 0..<300 {
        let count = 1 + round % 17
        if runCounts(count) != [Int](repeating: 1, count: count) {
          failures.add(1, ordering: .relaxed)
        }
      }
    }
    #expect(failures.load(ordering: .relaxed) == 0)
  }

  @Test func aLoopInsideALoopRunsWhole() {
    let sums = UnsafeMutableBufferPointer<Int>.allocate(capacity: 6)
    defer { sums.deallocate() }
    sums.initialize(repeating: 0)
    parallelFor(6) { outer in
      let inner = UnsafeMutableBufferPointer<Int>.allocate(capacity: 50)
      defer { inner.deallocate() }
      inner.initialize(repeating: 0)
      parallelFor(50) { index in inner[index] = index }
      sums[outer] = inner.reduce(0, +)
    }
    #expect(Array(sums) == [Int](repeating: 49 * 50 / 2, count: 6))
  }

  @Test func theHelpersWakeAfterSleeping() async throws {
    // Past the helpers' spin (0.2 ms), they sleep; the next loop must still run whole.
    for _ in 0..<5 {
      #expect(runCounts(16) == [Int](repeating: 1, count: 16))
      try await Task.sleep(for: .milliseconds(3))
    }
  }

  /// With two cores or more, the pool runs items at once on different threads: the first
  /// waits for the second to start, which one thread alone could never do. On the pool
  /// itself: `parallelFor`'s fallback, when another test's loop holds the pool, is
  /// Dispatch's, which a loaded test run may leave without a free thread.
  @Test(.enabled(if: Parallel.cores > 1)) func itemsRunAtOnceOnSeveralThreads() {
    let secondStarted = Atomic<Bool>(false)
    let firstSawIt = Atomic<Bool>(false)
    func runTwoItems() -> Bool {
      runOnPool(2) { index in
        if index == 1 {
          secondStarted.store(true, ordering: .releasing)
          return
        }
        // Generous: a loaded machine may take a while to schedule the helper.
        let deadline = DispatchTime.now().uptimeNanoseconds + 10_000_000_000
        while DispatchTime.now().uptimeNanoseconds < deadline {
          if secondStarted.load(ordering: .acquiring) {
            firstSawIt.store(true, ordering: .relaxed)
            return
          }
        }
      }
    }
    // Another test's loop may hold the pool for a while; a busy pool runs nothing.
    let giveUp = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
    var ran = runTwoItems()
    while !ran && DispatchTime.now().uptimeNanoseconds < giveUp {
      usleep(1000)
      ran = runTwoItems()
    }
    #expect(ran, "the pool stayed busy for a minute")
    let sawIt = firstSawIt.load(ordering: .relaxed)
    #expect(sawIt)
  }
}
