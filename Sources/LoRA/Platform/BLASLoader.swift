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
      let library = try SharedLibrary.open(requested)
      guard let sgemm = library.symbol("cblas_sgemm", as: BLASLibrary.Sgemm.self),
        let sgemv = library.symbol("cblas_sgemv", as: BLASLibrary.Sgemv.self)
      else {
        throw LoadError(description: "\(library.file) has no cblas_sgemm or cblas_sgemv")
      }
      let why = environment["LORA_BLAS"] == nil ? "the default" : "LORA_BLAS=\(requested)"
      let products = Products(sgemm: sgemm, sgemv: sgemv)
      let found =
        openBLAS(library, products, why: why, environment: environment)
        ?? blis(library, products, why: why)
        ?? mkl(library, products, why: why, environment: environment)
      if var found {
        if let sgesdd = library.symbol("sgesdd_", as: LAPACKFunctions.Sgesdd.self),
          let sgeqrf = library.symbol("sgeqrf_", as: LAPACKFunctions.Sgeqrf.self),
          let sorgqr = library.symbol("sorgqr_", as: LAPACKFunctions.Sorgqr.self)
        {
          found.lapack = LAPACKFunctions(sgesdd: sgesdd, sgeqrf: sgeqrf, sorgqr: sorgqr)
        }
        return found
      }
      throw LoadError(
        description:
          "\(library.file) is a CBLAS this library does not know (OpenBLAS, BLIS, oneMKL)")
    }

    /// The two CBLAS functions every library has.
    struct Products {
      var sgemm: BLASLibrary.Sgemm
      var sgemv: BLASLibrary.Sgemv
    }

    typealias Text = @convention(c) () -> UnsafePointer<CChar>?
    typealias SetInt32 = @convention(c) (Int32) -> Void

    /// OpenBLAS, its kernels corrected where they are below the CPU; `nil` for another BLAS.
    static func openBLAS(
      _ library: SharedLibrary, _ products: Products, why: String, environment: [String: String]
    ) -> BLASLibrary? {
      guard let config = library.symbol("openblas_get_config", as: Text.self),
        let corename = library.symbol("openblas_get_corename", as: Text.self)
      else { return nil }
      let setThreads = library.symbol("openblas_set_num_threads", as: SetInt32.self)
      setThreads?(1)
      let kernels = { corename().map { String(cString: $0) } ?? "unknown" }
      let selfTest = { BLASSelfTest.passes(products.sgemm) }
      var reason = why
      typealias Call = @convention(c) () -> Void
      if let quit = library.symbol("gotoblas_dynamic_quit", as: Call.self),
        let choose = library.symbol("gotoblas_dynamic_init", as: Call.self)
      {
        // OpenBLAS chooses its kernels again, reading OPENBLAS_CORETYPE, which is put back
        // as it was, so that the programs this one starts see the user's own.
        let switchTo = { (core: String) in
          let saved = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
          setenv("OPENBLAS_CORETYPE", core, 1)
          quit()
          choose()
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
        let chosen = kernels()
        let choice = OpenBLASCoreChoice(
          cpu: .current, openBLASChose: chosen, userSetting: userSetting)
        let (kept, notes) = choice.apply(original: chosen, switchTo: switchTo, selfTest: selfTest)
        reason += "; " + choice.reason
        if !choice.candidates.isEmpty { reason += "; using \(kept)" }
        reason += notes.map { "; \($0)" }.joined()
      } else {
        reason += "; built for one CPU (no DYNAMIC_ARCH), its kernels as they are"
      }
      return BLASLibrary(
        kind: .openblas, file: library.file,
        version: config().map { openBLASVersion(String(cString: $0)) } ?? "",
        kernels: kernels(), reason: reason, selfTestPassed: selfTest(),
        sgemmFunction: products.sgemm, sgemvFunction: products.sgemv,
        setThreadsFunction: { setThreads?(Int32($0)) })
    }

    /// BLIS, on the kernels it chose; `nil` for another BLAS.
    static func blis(_ library: SharedLibrary, _ products: Products, why: String) -> BLASLibrary? {
      guard let version = library.symbol("bli_info_get_version_str", as: Text.self) else {
        return nil
      }
      typealias SetInt64 = @convention(c) (Int64) -> Void
      typealias ArchID = @convention(c) () -> Int32
      typealias ArchName = @convention(c) (Int32) -> UnsafePointer<CChar>?
      let setThreads = library.symbol("bli_thread_set_num_threads", as: SetInt64.self)
      setThreads?(1)
      var kernels: String?
      if let query = library.symbol("bli_arch_query_id", as: ArchID.self),
        let name = library.symbol("bli_arch_string", as: ArchName.self)
      {
        kernels = name(query()).map { String(cString: $0) }
      }
      return BLASLibrary(
        kind: .blis, file: library.file, version: version().map { String(cString: $0) } ?? "",
        kernels: kernels, reason: why + "; BLIS's own choice of kernels",
        selfTestPassed: BLASSelfTest.passes(products.sgemm), sgemmFunction: products.sgemm,
        sgemvFunction: products.sgemv, setThreadsFunction: { setThreads?(Int64($0)) })
    }

    /// oneMKL, on the kernels it chose (or `MKL_ENABLE_INSTRUCTIONS`'s); `nil` for another BLAS.
    static func mkl(
      _ library: SharedLibrary, _ products: Products, why: String, environment: [String: String]
    ) -> BLASLibrary? {
      guard let setThreads = library.symbol("MKL_Set_Num_Threads", as: SetInt32.self) else {
        return nil
      }
      typealias VersionText = @convention(c) (UnsafeMutablePointer<CChar>?, Int32) -> Void
      setThreads(1)
      var version = ""
      if let read = library.symbol("MKL_Get_Version_String", as: VersionText.self) {
        var buffer = [CChar](repeating: 0, count: 256)
        read(&buffer, Int32(buffer.count))
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        version = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
      }
      let limit = environment["MKL_ENABLE_INSTRUCTIONS"].map { "MKL_ENABLE_INSTRUCTIONS=\($0)" }
      return BLASLibrary(
        kind: .mkl, file: library.file, version: version, kernels: limit,
        reason: why + "; MKL's own choice of kernels",
        selfTestPassed: BLASSelfTest.passes(products.sgemm), sgemmFunction: products.sgemm,
        sgemvFunction: products.sgemv, setThreadsFunction: { setThreads(Int32($0)) })
    }
  #endif
}

/// `openblas_get_config()` without its leading "OpenBLAS ": "0.3.21 DYNAMIC_ARCH ...".
private func openBLASVersion(_ config: String) -> String {
  let trimmed = config.trimmingCharacters(in: .whitespaces)
  return trimmed.hasPrefix("OpenBLAS ") ? String(trimmed.dropFirst(9)) : trimmed
}
