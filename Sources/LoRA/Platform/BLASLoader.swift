import Foundation

#if canImport(Accelerate)
  import Accelerate
#elseif canImport(Glibc)
  import Glibc
#endif

/// Opens the BLAS that `LORA_BLAS` names (OpenBLAS by default), corrects OpenBLAS's kernels
/// where they are below the CPU, and checks them: `BLASLibrary`'s first use.
enum BLASLoader {
  /// The shared libraries tried for each name of `LORA_BLAS`, first found wins, and the
  /// Debian package that installs them.
  static let candidates: [(name: String, files: [String], package: String)] = [
    ("openblas", ["libopenblas.so.0", "libopenblas.so"], "libopenblas0"),
    (
      "blis",
      [
        "libblis.so.4", "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
        "/usr/lib/aarch64-linux-gnu/blis-pthread/libblis.so.4", "libblis.so",
      ], "libblis4-pthread"
    ),
    (
      "mkl", ["libmkl_rt.so.3", "libmkl_rt.so.2", "libmkl_rt.so"],
      "the `mkl` wheel (its lib/ on LD_LIBRARY_PATH)"
    ),
  ]

  /// Loads and checks the BLAS, or stops the program with a message that says what to
  /// install or set: without a BLAS no product can run.
  static func load(environment: [String: String]) -> BLASLibrary {
    #if canImport(Accelerate)
      return accelerate()
    #else
      do {
        return try open(environment: environment)
      } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        exit(2)
      }
    #endif
  }

  #if canImport(Accelerate)
    static func accelerate() -> BLASLibrary {
      BLASLibrary(
        kind: .accelerate, file: "Accelerate.framework", version: "", kernels: nil,
        reason: "the system's BLAS", selfTestPassed: true,
        sgemmFunction: { order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
          cblas_sgemm(
            CBLAS_ORDER(rawValue: UInt32(order)), CBLAS_TRANSPOSE(rawValue: UInt32(ta)),
            CBLAS_TRANSPOSE(rawValue: UInt32(tb)), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        },
        sgemvFunction: { order, t, m, n, alpha, a, lda, x, incX, beta, y, incY in
          cblas_sgemv(
            CBLAS_ORDER(rawValue: UInt32(order)), CBLAS_TRANSPOSE(rawValue: UInt32(t)), m, n,
            alpha, a, lda, x, incX, beta, y, incY)
        },
        setThreadsFunction: { _ in })
    }
  #else
    /// What went wrong loading a BLAS.
    struct LoadError: Error, CustomStringConvertible {
      var description: String
    }

    static func open(environment: [String: String]) throws -> BLASLibrary {
      let requested = environment["LORA_BLAS"].flatMap { $0.isEmpty ? nil : $0 } ?? "openblas"
      let files: [String]
      var hint = ""
      if requested.contains("/") {
        files = [requested]
      } else if let entry = candidates.first(where: { $0.name == requested.lowercased() }) {
        files = entry.files
        hint = "; install \(entry.package)"
      } else {
        throw LoadError(
          description: "LORA_BLAS=\(requested): expected openblas, blis, mkl or a library's path")
      }
      guard
        let (file, handle) = files.lazy.compactMap({ file in
          dlopen(file, RTLD_NOW | RTLD_LOCAL).map { (file, $0) }
        }).first
      else {
        let why = dlerror().map { String(cString: $0) } ?? "not found"
        throw LoadError(
          description:
            "no BLAS for LORA_BLAS=\(requested): tried \(files.joined(separator: ", ")) (\(why))\(hint)"
        )
      }
      func symbol<T>(_ name: String, as type: T.Type) -> T? {
        dlsym(handle, name).map { unsafeBitCast($0, to: type) }
      }
      guard let sgemm = symbol("cblas_sgemm", as: BLASLibrary.Sgemm.self),
        let sgemv = symbol("cblas_sgemv", as: BLASLibrary.Sgemv.self)
      else {
        throw LoadError(description: "\(file) has no cblas_sgemm or cblas_sgemv: not a CBLAS")
      }
      typealias Text = @convention(c) () -> UnsafePointer<CChar>?
      typealias SetInt32 = @convention(c) (Int32) -> Void
      typealias SetInt64 = @convention(c) (Int64) -> Void
      typealias Void0 = @convention(c) () -> Void
      let why =
        requested == "openblas" && environment["LORA_BLAS"] == nil
        ? "the default" : "LORA_BLAS=\(requested)"

      if let config = symbol("openblas_get_config", as: Text.self),
        let corename = symbol("openblas_get_corename", as: Text.self)
      {
        let setThreads = symbol("openblas_set_num_threads", as: SetInt32.self)
        setThreads?(1)
        let name = { corename().map { String(cString: $0) } ?? "unknown" }
        let selfTest = { BLASSelfTest.passes(sgemm) }
        var reason = why
        if let quit = symbol("gotoblas_dynamic_quit", as: Void0.self),
          let initialise = symbol("gotoblas_dynamic_init", as: Void0.self)
        {
          // OpenBLAS chooses its kernels again, reading OPENBLAS_CORETYPE; the variable is
          // put back as it was, so that programs this one starts see the user's own.
          let switchTo = { (core: String) in
            let saved = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
            setenv("OPENBLAS_CORETYPE", core, 1)
            quit()
            initialise()
            if let saved {
              setenv("OPENBLAS_CORETYPE", saved, 1)
            } else {
              unsetenv("OPENBLAS_CORETYPE")
            }
          }
          let userSetting = environment["OPENBLAS_CORETYPE"]
          // A test hook: OpenBLAS starts on these kernels, as if it had chosen them, so that
          // the correction can be seen end to end on a CPU that OpenBLAS knows.
          if let start = environment["LORA_TEST_OPENBLAS_CHOOSES"], userSetting == nil {
            switchTo(start)
          }
          let chosen = name()
          let choice = OpenBLASCoreChoice(
            cpu: .current, openBLASChose: chosen, userSetting: userSetting)
          let (kept, notes) = choice.apply(
            original: chosen, switchTo: switchTo, selfTest: selfTest)
          reason += "; " + choice.reason
          if !choice.candidates.isEmpty { reason += "; using \(kept)" }
          reason += notes.map { "; \($0)" }.joined()
        } else {
          reason += "; built for one CPU (no DYNAMIC_ARCH), its kernels as they are"
        }
        return BLASLibrary(
          kind: .openblas, file: file,
          version: config().map { openBLASVersion(String(cString: $0)) } ?? "",
          kernels: name(), reason: reason, selfTestPassed: selfTest(),
          sgemmFunction: sgemm, sgemvFunction: sgemv,
          setThreadsFunction: { setThreads?(Int32($0)) })
      }
      if let version = symbol("bli_info_get_version_str", as: Text.self) {
        typealias ArchID = @convention(c) () -> Int32
        typealias ArchName = @convention(c) (Int32) -> UnsafePointer<CChar>?
        let setThreads = symbol("bli_thread_set_num_threads", as: SetInt64.self)
        setThreads?(1)
        var kernels: String?
        if let query = symbol("bli_arch_query_id", as: ArchID.self),
          let archName = symbol("bli_arch_string", as: ArchName.self)
        {
          kernels = archName(query()).map { String(cString: $0) }
        }
        return BLASLibrary(
          kind: .blis, file: file, version: version().map { String(cString: $0) } ?? "",
          kernels: kernels, reason: why + "; BLIS's own choice of kernels",
          selfTestPassed: BLASSelfTest.passes(sgemm), sgemmFunction: sgemm, sgemvFunction: sgemv,
          setThreadsFunction: { setThreads?(Int64($0)) })
      }
      if let setThreads = symbol("MKL_Set_Num_Threads", as: SetInt32.self) {
        typealias VersionText = @convention(c) (UnsafeMutablePointer<CChar>?, Int32) -> Void
        setThreads(1)
        var version = ""
        if let read = symbol("MKL_Get_Version_String", as: VersionText.self) {
          var buffer = [CChar](repeating: 0, count: 256)
          read(&buffer, Int32(buffer.count))
          let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
          version = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
        let limit = environment["MKL_ENABLE_INSTRUCTIONS"].map { "MKL_ENABLE_INSTRUCTIONS=\($0)" }
        return BLASLibrary(
          kind: .mkl, file: file, version: version, kernels: limit,
          reason: why + "; MKL's own choice of kernels",
          selfTestPassed: BLASSelfTest.passes(sgemm), sgemmFunction: sgemm, sgemvFunction: sgemv,
          setThreadsFunction: { setThreads(Int32($0)) })
      }
      throw LoadError(
        description: "\(file) is a CBLAS this library does not know (OpenBLAS, BLIS or oneMKL)")
    }
  #endif
}

/// `openblas_get_config()` without its leading "OpenBLAS ": "0.3.21 DYNAMIC_ARCH ...".
private func openBLASVersion(_ config: String) -> String {
  let trimmed = config.trimmingCharacters(in: .whitespaces)
  return trimmed.hasPrefix("OpenBLAS ") ? String(trimmed.dropFirst(9)) : trimmed
}
