/// Tunes the C allocator once, before the first tensor's storage is allocated.
///
/// glibc serves large blocks with fresh `mmap`s, and gives the top of its heap back to the
/// system once more than a few MB there are free. A training step frees and reallocates
/// its activations every step, so each would be page-faulted in anew, which costs more than
/// the arithmetic on them (about 1 ms per 4 MB). Keeping blocks up to 32 MiB in the heap and
/// trimming only past 1 GiB of free space lets each step reuse the pages of the last.
enum Allocator {
  static let isConfigured: Bool = {
    #if os(Linux)
      _ = mallopt(mallocMmapThreshold, 32 << 20)
      _ = mallopt(mallocTrimThreshold, 1 << 30)
    #endif
    return true
  }()
}

#if os(Linux)
  // From glibc's <malloc.h>, which the Glibc module does not export.
  private let mallocTrimThreshold: Int32 = -1
  private let mallocMmapThreshold: Int32 = -3
  @_silgen_name("mallopt")
  private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
