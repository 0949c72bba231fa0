// The library's worker threads: `lora_pool_run` hands the items of one parallel loop to the
// calling thread and to helper threads that spin a little while after each loop before they
// sleep.
//
// Why not Dispatch alone: `concurrentPerform` puts its workers to sleep the moment a loop
// ends, and waking one costs a system call on each side and 10–20 µs before it starts. A
// token of GPT-2 generation is 49 loops of about 300 µs each, with the helper arriving late
// to every one; a training step of a small model is hundreds of short loops. A helper that
// is still spinning when the next loop arrives takes its first item within a microsecond.
//
// One loop runs at a time. A caller that finds the pool busy (another thread's loop, or a
// loop inside one of the pool's own items) is told so, and runs its loop elsewhere.

#include "CKernels.h"

#if defined(__linux__)

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define relax() _mm_pause()
#else
#define relax() ((void)0)
#endif

/// How long a helper waits for the next loop, spinning, before it sleeps: long enough to
/// span the serial work between two loops of a training step or a generated token, short
/// enough that an idle program gives its cores back at once.
#define SPIN_NANOSECONDS 200000

#define MAX_HELPERS 63

/// The item index that closes a loop to claims while it is being set up: never below a
/// loop's count.
#define CLOSED 0xffffffffu

static struct {
  /// The current loop's number (high 32 bits) and its next unclaimed item (low 32 bits):
  /// claiming through one word means an item is only ever claimed for the loop it belongs to.
  _Atomic uint64_t next;
  /// The loop's number alone, for helpers to sleep on.
  _Atomic uint32_t signal;
  /// Items finished in the current loop.
  _Atomic long finished;
  /// Helpers asleep, or about to be.
  _Atomic int sleepers;
  /// 1 while a loop runs.
  _Atomic int busy;
  /// Helpers started so far.
  int helpers;
  /// The current loop: its item count, body and context; written after `next` closes the
  /// last loop to claims and before it opens this one. A helper may read a newer loop's
  /// description than the number it holds; its claims then fail.
  _Atomic long count;
  _Atomic(lora_pool_body) body;
  _Atomic(void *) context;
  uint32_t loop;
} pool;

/// Nonzero while a test asks for random pauses at the points where the pool's threads race.
static _Atomic int test_pauses;

void lora_pool_test_pauses(int on) { atomic_store(&test_pauses, on); }

/// Sometimes sleeps up to `microseconds`, while a test asks: the descheduling a loaded
/// machine does, made frequent enough for a test to meet every interleaving.
static inline void test_pause(int microseconds) {
  if (__builtin_expect(atomic_load_explicit(&test_pauses, memory_order_relaxed), 0)) {
    static _Thread_local unsigned seed = 1;
    seed = seed * 1103515245u + 12345u;
    if ((seed >> 16) % 3 == 0) usleep((seed >> 8) % (unsigned)microseconds);
  }
}

static long long now_nanoseconds(void) {
  struct timespec time;
  clock_gettime(CLOCK_MONOTONIC, &time);
  return (long long)time.tv_sec * 1000000000LL + time.tv_nsec;
}

/// Claims and runs items of loop `loop` until none is left, or until a newer loop began.
static void run_items(uint32_t loop, long count, lora_pool_body body, void *context) {
  uint64_t word = atomic_load_explicit(&pool.next, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(word >> 32) != loop || (long)(word & 0xffffffffu) >= count) return;
    if (atomic_compare_exchange_weak_explicit(
          &pool.next, &word, word + 1, memory_order_acq_rel, memory_order_acquire)) {
      test_pause(20);
      body(context, (long)(word & 0xffffffffu));
      atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
      word = atomic_load_explicit(&pool.next, memory_order_acquire);
    }
  }
}

static void *helper_main(void *unused) {
  (void)unused;
  uint32_t seen = 0;
  for (;;) {
    // Wait for a loop newer than the last one seen: spin a while, then sleep.
    long long deadline = now_nanoseconds() + SPIN_NANOSECONDS;
    uint32_t loop;
    for (int spins = 0;
         (loop = atomic_load_explicit(&pool.signal, memory_order_acquire)) == seen;) {
      relax();
      if (++spins % 256 == 0 && now_nanoseconds() > deadline) {
        atomic_fetch_add(&pool.sleepers, 1);
        // Returns at once if the signal changed since it was read (no wake-up is lost).
        syscall(SYS_futex, &pool.signal, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        atomic_fetch_sub(&pool.sleepers, 1);
        deadline = now_nanoseconds() + SPIN_NANOSECONDS;
      }
    }
    seen = loop;
    test_pause(50);
    // The description read here is this loop's, or a later one's; a later one was closed
    // to claims for this loop before it was written, so the claims below then fail.
    run_items(
      loop, atomic_load_explicit(&pool.count, memory_order_acquire),
      atomic_load_explicit(&pool.body, memory_order_acquire),
      atomic_load_explicit(&pool.context, memory_order_acquire));
  }
  return NULL;
}

int lora_pool_run(long count, int threads, void *context, lora_pool_body body) {
  if (count <= 0) return 1;
  if (count >= CLOSED || atomic_exchange_explicit(&pool.busy, 1, memory_order_acquire)) {
    return 0;
  }
  int wanted = threads - 1 < MAX_HELPERS ? threads - 1 : MAX_HELPERS;
  while (pool.helpers < wanted) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, helper_main, NULL) != 0) break;
    pthread_detach(thread);
    pool.helpers++;
  }
  uint32_t loop = ++pool.loop;
  // Close the claims first: a helper late from the last loop may still hold its number and
  // read this loop's description below, and must not claim this loop's items under the
  // last loop's number (they would run twice, the second time after this call returned).
  atomic_store_explicit(&pool.next, ((uint64_t)loop << 32) | CLOSED, memory_order_relaxed);
  atomic_store_explicit(&pool.count, count, memory_order_release);
  atomic_store_explicit(&pool.body, body, memory_order_release);
  atomic_store_explicit(&pool.context, context, memory_order_release);
  test_pause(50);
  atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.next, (uint64_t)loop << 32, memory_order_release);
  // Sequentially consistent, with the helper's `sleepers` increment: either it sees the new
  // signal before it sleeps, or this sees it asleep and wakes it.
  atomic_store(&pool.signal, loop);
  if (atomic_load(&pool.sleepers) > 0) {
    syscall(SYS_futex, &pool.signal, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
  }
  run_items(loop, count, body, context);
  // Every item is claimed; wait for those still running on helpers.
  for (long spins = 0; atomic_load_explicit(&pool.finished, memory_order_acquire) < count;) {
    // A helper descheduled mid-item (a loaded machine) gets the core back sooner.
    if (++spins > 4096) sched_yield(); else relax();
  }
  atomic_store_explicit(&pool.busy, 0, memory_order_release);
  return 1;
}

#else

// Elsewhere the pool is never free, and every loop runs on Dispatch.
int lora_pool_run(long count, int threads, void *context, lora_pool_body body) { return 0; }

void lora_pool_test_pauses(int on) { (void)on; }

#endif
