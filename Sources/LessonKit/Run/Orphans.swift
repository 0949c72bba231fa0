internal import CProcessControl
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a lesson program leaves running when it ends: processes it started that outlived
/// it, even those that left its process group (`setsid sh -c '...' &`). The supervisor
/// stops them, so that nothing a lesson started goes on after `lessons run`, `watch`,
/// `serve` or `export` (in the grader's sandbox, its PID namespace ends them anyway).
///
/// The runner makes itself its descendants' reaper (Linux's `PR_SET_CHILD_SUBREAPER`), so
/// an orphan becomes the runner's child rather than init's. Once the program's group is
/// killed, every child of the runner that is the program's leftover (one of its group, one
/// in a session of its own, or a descendant seen while it ran) is killed and reaped, again
/// and again as their own orphans come to the runner, until none is left. The runner's own
/// helpers (the compiler, Node.js, bubblewrap, another run's program) stay in its session
/// and groups of their own, and are left alone.
enum Orphans {
  /// Makes the runner the reaper of its orphaned descendants, once.
  static let becomeReaper: Void = {
    #if os(Linux)
      _ = lessons_become_child_subreaper()
    #endif
  }()

  /// Stops and reaps whatever `program` (a process group leader, already ended and
  /// reaped) left behind; `seen` are its descendants found while it ran.
  static func stop(leftBy program: pid_t, seen: Set<ProcessStamp>) {
    #if os(Linux)
      for stamp in seen where stamp.isAlive { kill(stamp.pid, SIGKILL) }
      let seenIDs = Set(seen.map(\.pid))
      let (me, session) = (getpid(), getsid(0))
      // Orphans reach the reaper a moment after their parent dies: look until three looks
      // in a row find none (about 30 ms when nothing was left, at most half a second).
      var quietLooks = 0
      for _ in 0..<50 where quietLooks < 3 {
        let leftovers = processFamily(me).children.filter { child in
          guard let stat = processStat(child) else { return false }
          return stat.group == program || stat.session != session || seenIDs.contains(child)
        }
        for child in leftovers {
          kill(child, SIGKILL)
          var status: Int32 = 0
          _ = waitpid(child, &status, 0)
        }
        quietLooks = leftovers.isEmpty ? quietLooks + 1 : 0
        usleep(10_000)
      }
    #endif
  }
}
