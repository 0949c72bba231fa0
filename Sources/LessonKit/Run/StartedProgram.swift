internal import CProcessControl
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A lesson program just started: its process (the group leader) and the read end of its
/// event pipe.
struct StartedProgram {
  var process: pid_t
  var events: Int32
}

/// Starts `executable` in a new process group, its output streams redirected to files, its
/// event channel on descriptor 3 (a pipe) and the channel's key readable once on
/// descriptor 4; inside `limits.sandbox` when there is one.
///
/// Outside a sandbox the program gets the runner's environment and runs in `directory`,
/// with `writeHook` preloaded and its log in the run's folder;
/// inside, it gets an allowlist, and runs as `prlimit ... -- bwrap ... -- PROGRAM`, so that
/// the kernel's CPU-time and file-size limits hold for everything in it.
func startProgram(
  _ executable: String, stdout: String, stderr: String, key: String, directory: String?,
  environment extra: [String: String] = [:], writeHook: String? = nil, limits: RunLimits,
  runFolder: String
) throws -> StartedProgram {
  let (eventsRead, eventsWrite) = try makePipe()
  let (keyRead, keyWrite) = try makePipe()
  defer {
    close(eventsWrite)
    close(keyRead)
  }
  // The key is a few dozen bytes, well within a pipe's buffer; the program reads it once.
  _ = key.withCString { write(keyWrite, $0, strlen($0)) }
  close(keyWrite)
  _ = fcntl(eventsRead, F_SETFL, fcntl(eventsRead, F_GETFL) | O_NONBLOCK)

  var environment: [String: String]
  var command: [String]
  var seccompPath: String?
  if let sandbox = limits.sandbox {
    environment = Sandbox.environment(blasThreads: limits.blasThreads)
    if let filter = noNewProcessesFilter() {
      seccompPath = runFolder + "/seccomp.bpf"
      FileManager.default.createFile(atPath: seccompPath!, contents: Data(filter))
    }
    var rlimits = ["--fsize=\(limits.fileSize)"]
    // Soft then hard: SIGXCPU at the limit, SIGKILL five seconds later.
    if let cpu = limits.cpuTime { rlimits.append("--cpu=\(cpu):\(cpu + 5)") }
    // A copy that only the kernel reads, to run it: the program cannot read its own bytes
    // (where the marker tokens are), by its path or any other.
    let sealed = runFolder + "/lesson"
    try FileManager.default.copyItem(atPath: executable, toPath: sealed)
    chmod(sealed, 0o111)
    command =
      [try prlimitPath()] + rlimits + ["--", sandbox.bwrap]
      + sandbox.arguments(executable: sealed, seccompDescriptor: seccompPath == nil ? nil : 5)
  } else {
    // Only the runner hands a program a cell cache and a write log: never ones inherited
    // from the shell.
    environment = ProcessInfo.processInfo.environment.filter {
      !$0.key.hasPrefix("LESSONS_CELL_CACHE") && $0.key != "LESSONS_WRITE_LOG"
    }.merging(extra) { _, new in new }
    if let writeHook {
      let log = runFolder + "/writes.log"
      FileManager.default.createFile(atPath: log, contents: nil)
      environment["LESSONS_WRITE_LOG"] = log
      environment["LD_PRELOAD"] = ([writeHook] + [environment["LD_PRELOAD"]].compactMap { $0 })
        .joined(separator: ":")
    }
    if let directory { environment["LESSONS_DIRECTORY"] = directory }
    if let threads = limits.blasThreads {
      environment["OPENBLAS_NUM_THREADS"] = "\(threads)"
      environment["OMP_NUM_THREADS"] = "\(threads)"
    }
    command = [executable]
  }
  environment["LESSONS_CHANNEL"] = "1"
  // The runtime's "Fatal error: ..." line says what a learner needs; the full backtrace
  // with registers would bury it.
  environment["SWIFT_BACKTRACE"] = "enable=no"

  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_adddup2(&actions, eventsWrite, 3)
  posix_spawn_file_actions_adddup2(&actions, keyRead, 4)
  if let seccompPath { posix_spawn_file_actions_addopen(&actions, 5, seccompPath, O_RDONLY, 0) }
  #if os(Linux)
    // Nothing else of the runner's: a descriptor it inherited and passed on (such as the
    // socket by which Foundation's `Process` in a parent watches `lessons` end) would be
    // held open by whatever the lesson leaves running.
    _ = lessons_spawn_close_from(&actions, 6)
  #endif
  var attributes = posix_spawnattr_t()
  posix_spawnattr_init(&attributes)
  defer { posix_spawnattr_destroy(&attributes) }
  posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
  posix_spawnattr_setpgroup(&attributes, 0)

  let environmentLines = environment.map { "\($0.key)=\($0.value)" }
  var pid: pid_t = 0
  let status = withCStrings(command) { argv in
    withCStrings(environmentLines) { envp in
      posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
    }
  }
  guard status == 0 else {
    close(eventsRead)
    throw LessonError(
      file: executable, "could not be started (\(String(cString: strerror(status))))")
  }
  return StartedProgram(process: pid, events: eventsRead)
}

/// A pipe whose two ends are above the descriptors a program gets (0 to 5), so that moving
/// them there never overwrites one with another, and close on exec, so that no other
/// program started meanwhile (a grader starts several) inherits them.
private func makePipe() throws -> (read: Int32, write: Int32) {
  var ends: [Int32] = [0, 0]
  guard pipe(&ends) == 0 else {
    throw LessonError(
      file: "lessons", "could not make a pipe (\(String(cString: strerror(errno))))")
  }
  let moved = ends.map { end -> Int32 in
    let high = fcntl(end, F_DUPFD_CLOEXEC, 10)
    close(end)
    return high
  }
  return (moved[0], moved[1])
}

/// util-linux's `prlimit`, which sets the kernel's limits and then runs the sandbox.
private func prlimitPath() throws -> String {
  for path in ["/usr/bin/prlimit", "/bin/prlimit"]
  where FileManager.default.isExecutableFile(atPath: path) {
    return path
  }
  throw LessonError(file: "lessons", "the sandbox needs prlimit, from util-linux")
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T)
  -> T
{
  let pointers = strings.map { strdup($0) } + [nil]
  defer { pointers.forEach { free($0) } }
  return body(pointers)
}
