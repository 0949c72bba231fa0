#if canImport(Glibc)
  import Glibc
#endif

#if !canImport(Accelerate)
  /// A shared library opened with `dlopen`, kept open for the life of the process.
  struct SharedLibrary {
    /// The file name or path it was opened by.
    var file: String
    private var handle: UnsafeMutableRawPointer

    /// Opens the library that `LORA_BLAS` names: a name of `BLASLoader.candidates`, whose
    /// files are tried in turn, or a path.
    static func open(_ requested: String) throws -> SharedLibrary {
      var files = [requested]
      var hint = ""
      if !requested.contains("/") {
        guard let entry = BLASLoader.candidates.first(where: { $0.name == requested.lowercased() })
        else {
          throw BLASLoader.LoadError(
            description: "LORA_BLAS=\(requested): expected openblas, blis, mkl or a library's path")
        }
        files = entry.files
        hint = "; install \(entry.package)"
      }
      for file in files {
        if let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) {
          return SharedLibrary(file: file, handle: handle)
        }
      }
      let why = dlerror().map { String(cString: $0) } ?? "not found"
      throw BLASLoader.LoadError(
        description: "no BLAS for LORA_BLAS=\(requested): tried "
          + "\(files.joined(separator: ", ")) (\(why))\(hint)")
    }

    /// The function `name` as `type`, or `nil` when the library has none.
    func symbol<T>(_ name: String, as type: T.Type) -> T? {
      dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }
  }
#endif
