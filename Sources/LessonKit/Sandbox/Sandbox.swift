import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A Linux namespace sandbox for one lesson program, made with bubblewrap (`bwrap`), the
/// tool Flatpak uses: what the program can see, where it runs, and what it may not do.
///
/// Inside, the program sees a new root holding only `/usr` (read-only, with the usual
/// `/bin`, `/lib` links), the dynamic linker's cache, the Swift runtime, `libLessonSupport`
/// (LoRA and the lesson runtime) and the lesson's data files, all read-only, and its own
/// executable, which it may run but not read. There is no `/proc`, so it cannot read its
/// memory or its environment from outside its own code. It gets a private, size-limited
/// `/tmp`, no network, and a process namespace of its own, so it sees no other process and
/// every process in it ends with the run. A seccomp
/// filter refuses new processes (threads are allowed). Its environment is an allowlist.
///
/// What it does not hide: the CPU's model and count (`/sys/devices/system/cpu`), the
/// kernel's version, and the contents of `/usr`.
public struct Sandbox: Sendable {
  /// The `bwrap` executable.
  public var bwrap: String
  /// Files and folders made visible read-only, each at its own path.
  public var readOnly: [String]
  /// The program's working directory (the lesson's folder, holding only `readOnly` data).
  public var workingDirectory: String
  /// Bytes the private `/tmp` may hold: the only place it can write.
  public var temporarySpace: Int

  /// Finds `bwrap` on `PATH` and checks, once per process, that it can make the
  /// namespaces here.
  ///
  /// - Throws: a `LessonError` that says what is missing: not Linux, no bubblewrap, or
  ///   unprivileged user namespaces switched off.
  public static func locateBubblewrap() throws -> String {
    try probe.get()
  }

  private static let probe: Result<String, LessonError> = {
    #if os(Linux)
      let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":").map { "\($0)/bwrap" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
      guard let path else {
        return .failure(
          LessonError(
            file: "lessons",
            "the sandbox needs bubblewrap: install it (`apt-get install bubblewrap`), or pass "
              + "--no-sandbox to run submissions unconfined (only for code you trust)"))
      }
      let arguments = ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
      guard let result = try? runTool(path, arguments), result.status == 0 else {
        let why = (try? runTool(path, arguments))?.output ?? ""
        return .failure(
          LessonError(
            file: "lessons",
            "bubblewrap cannot make a sandbox on this machine (\(why.trimmingCharacters(in: .whitespacesAndNewlines))); "
              + "unprivileged user namespaces may be switched off (sysctl "
              + "kernel.unprivileged_userns_clone=1), or pass --no-sandbox for code you trust"))
      }
      return .success(path)
    #else
      return .failure(
        LessonError(
          file: "lessons",
          "the sandbox needs Linux namespaces (bubblewrap); on this system pass --no-sandbox, "
            + "and grade only code you trust"))
    #endif
  }()

  /// The sandbox for a program compiled from a lesson in `lessonFolder` that reads
  /// `dataPaths` (relative to that folder), with `toolchain`'s libraries.
  public static func forLesson(
    toolchain: Toolchain, lessonFolder: String, dataPaths: [String], temporarySpace: Int
  ) throws -> Sandbox {
    let folder = URL(fileURLWithPath: lessonFolder).standardizedFileURL.path
    let swiftRuntime = URL(fileURLWithPath: toolchain.swiftc).deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("lib/swift").path
    var readOnly = [
      toolchain.libraryDirectory + "/" + supportLibraryName,
      // Where the dynamic linker finds OpenBLAS: its cache, and Debian's alternatives links.
      "/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime",
      // How many CPUs there are, for OpenBLAS and Dispatch.
      "/sys/devices/system/cpu",
    ]
    if FileManager.default.fileExists(atPath: swiftRuntime), !swiftRuntime.hasPrefix("/usr/") {
      readOnly.append(swiftRuntime)
    }
    readOnly += dataPaths.map { folder + "/" + $0 }
    return Sandbox(
      bwrap: try locateBubblewrap(),
      readOnly: readOnly.filter { FileManager.default.fileExists(atPath: $0) },
      workingDirectory: folder, temporarySpace: temporarySpace)
  }

  /// The `bwrap` arguments that run `executable` inside, reading its seccomp filter from
  /// descriptor `seccompDescriptor` when there is one.
  func arguments(executable: String, seccompDescriptor: Int32?) -> [String] {
    var arguments = [
      // No /proc: the program cannot read its own memory (/proc/self/mem, maps), nor
      // find its binary or environment there; nothing the library needs is in it.
      "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
      "--dev", "/dev",
      "--size", "\(temporarySpace)", "--tmpfs", "/tmp",
      "--ro-bind", "/usr", "/usr",
    ]
    // Merged-/usr systems link /bin, /lib and the rest into /usr; older ones have folders.
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
      if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: top) {
        arguments += ["--symlink", target, top]
      } else if FileManager.default.fileExists(atPath: top) {
        arguments += ["--ro-bind", top, top]
      }
    }
    for path in readOnly + [executable] { arguments += ["--ro-bind", path, path] }
    // The new root and /dev, and the folders made in them, are tmpfs without a size limit:
    // read-only, so that the only place to write is the sized /tmp. (The working folder
    // may itself be under /tmp: it is made unwritable.)
    arguments += [
      "--dir", workingDirectory, "--chmod", "0555", workingDirectory, "--remount-ro", "/",
      "--remount-ro", "/dev", "--chdir", workingDirectory,
    ]
    if let seccompDescriptor { arguments += ["--seccomp", "\(seccompDescriptor)"] }
    arguments += ["--", executable]
    return arguments
  }

  /// The environment a sandboxed program gets: nothing of the grader's but the locale.
  static func environment(blasThreads: Int?) -> [String: String] {
    var environment = [
      "PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
    ]
    if let blasThreads {
      environment["OPENBLAS_NUM_THREADS"] = "\(blasThreads)"
      environment["OMP_NUM_THREADS"] = "\(blasThreads)"
    }
    return environment
  }
}

/// The classic-BPF seccomp program that stops a process from starting processes: `fork`,
/// `vfork` and a `clone` without `CLONE_THREAD` fail with `EPERM`, and `clone3` (whose flags
/// a filter cannot read) with `ENOSYS`, so that the C library falls back to `clone` for
/// threads. System calls of another architecture (32-bit calls on x86-64) are refused.
///
/// - Returns: the `struct sock_filter` array as bytes, or `nil` on an architecture this does
///   not know (the sandbox then runs without the filter, and the thread limit still holds).
func noNewProcessesFilter() -> [UInt8]? {
  // Instruction fields: code (16 bits), jump-if-true, jump-if-false, k (32 bits).
  typealias Instruction = (code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)
  let load: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
  let jumpEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
  let jumpSet: UInt16 = 0x45  // BPF_JMP | BPF_JSET | BPF_K
  let jumpGreaterEqual: UInt16 = 0x35  // BPF_JMP | BPF_JGE | BPF_K
  let ret: UInt16 = 0x06  // BPF_RET | BPF_K
  let allow: UInt32 = 0x7fff_0000
  let refuse = 0x0005_0000 | UInt32(EPERM)
  let notImplemented = 0x0005_0000 | UInt32(ENOSYS)
  #if arch(x86_64)
    let architecture: UInt32 = 0xC000_003E  // AUDIT_ARCH_X86_64
    let (clone, clone3): (UInt32, UInt32) = (56, 435)
    let forks: [UInt32] = [57, 58]  // fork, vfork
  #elseif arch(arm64)
    let architecture: UInt32 = 0xC000_00B7  // AUDIT_ARCH_AARCH64
    let (clone, clone3): (UInt32, UInt32) = (220, 435)
    let forks: [UInt32] = []
  #else
    return nil
  #endif
  // Offsets in struct seccomp_data: nr 0, arch 4, args[0] 16 (its low half, little-endian).
  var program: [Instruction] = [
    (load, 0, 0, 4),
    (jumpEqual, 1, 0, architecture),
    (ret, 0, 0, refuse),
    (load, 0, 0, 0),
    // x32 system calls (number | 0x40000000) on x86-64.
    (jumpGreaterEqual, 0, 1, 0x4000_0000),
    (ret, 0, 0, refuse),
    (jumpEqual, 0, 1, clone3),
    (ret, 0, 0, notImplemented),
  ]
  for number in forks {
    program += [(jumpEqual, 0, 1, number), (ret, 0, 0, refuse)]
  }
  program += [
    (jumpEqual, 1, 0, clone),
    (ret, 0, 0, allow),
    (load, 0, 0, 16),
    (jumpSet, 1, 0, 0x0001_0000),  // CLONE_THREAD
    (ret, 0, 0, refuse),
    (ret, 0, 0, allow),
  ]
  var bytes: [UInt8] = []
  for instruction in program {
    withUnsafeBytes(of: instruction.code.littleEndian) { bytes += $0 }
    bytes += [instruction.jt, instruction.jf]
    withUnsafeBytes(of: instruction.k.littleEndian) { bytes += $0 }
  }
  return bytes
}

extension RunLimits {
  /// These limits with a sandbox for running `lesson`: it sees the lesson's folder only
  /// through the data files the lesson's code names (for grading, pass the key, never the
  /// submission), and a private `/tmp` of `fileSize` bytes.
  public func confined(to lesson: Lesson, toolchain: Toolchain) throws -> RunLimits {
    var limits = self
    limits.sandbox = try Sandbox.forLesson(
      toolchain: toolchain,
      lessonFolder: URL(fileURLWithPath: lesson.path).deletingLastPathComponent().path,
      dataPaths: dataPaths(of: lesson), temporarySpace: fileSize)
    return limits
  }
}

/// The files and folders of a lesson's folder that its code names in string literals
/// (`"models/base-gpt.safetensors"` names `models`), which a sandboxed run may read. Markdown
/// files are never among them: a key must not be readable by the code it grades.
public func dataPaths(of lesson: Lesson) -> [String] {
  let folder = URL(fileURLWithPath: lesson.path).deletingLastPathComponent().path
  var names = Set<String>()
  for cell in lesson.cells {
    var remaining = cell.source[...]
    while let open = remaining.firstIndex(of: "\"") {
      let rest = remaining[remaining.index(after: open)...]
      guard let close = rest.firstIndex(where: { $0 == "\"" || $0 == "\n" }) else { break }
      let literal = rest[..<close]
      remaining = rest[rest.index(after: close)...]
      guard let first = literal.split(separator: "/").first, !literal.hasPrefix("/"),
        first != "..", first != ".", !first.hasSuffix(".md"), !first.contains("\\")
      else { continue }
      let name = String(first)
      if FileManager.default.fileExists(atPath: folder + "/" + name) { names.insert(name) }
    }
  }
  return names.sorted()
}
