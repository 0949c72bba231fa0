#if os(Linux)
  import Glibc
#endif

/// The CPU kernels OpenBLAS multiplies with (`Haswell`, `SkylakeX`, ...: its choice for the
/// CPU, or `OPENBLAS_CORETYPE`'s), or `nil` when the BLAS is another library (Accelerate).
public func blasKernels() -> String? {
  #if os(Linux)
    typealias NameFunction = @convention(c) () -> UnsafePointer<CChar>?
    guard let symbol = dlsym(nil, "openblas_get_corename") else { return nil }
    return unsafeBitCast(symbol, to: NameFunction.self)().map { String(cString: $0) }
  #else
    return nil
  #endif
}
