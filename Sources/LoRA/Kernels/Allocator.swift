/// Tunes the C allocator once, before the first tensor's storage is allocated.
///
/// glibc serves large blocks with fresh `mmap`s (above 32 MiB at most, whatever the
/// threshold is set to), and gives the top of its heap back to the system once more than a
/// few MB there are free. A training step frees and reallocates its activations every step,
/// so each would be page-faulted in anew, which costs more than the arithmetic on them
/// (about 1 ms per 4 MB). GPT-2's logits and their gradient are 100 MB each: faulting them
/// in took 12–20% of a GPT-2 small LoRA step. So every block comes from the heap, and the
/// heap is trimmed only past 1 GiB of free space: each step reuses the pages of the last.
enum Allocator {
  static let isConfigured: Bool = {
    #if os(Linux)
      _ = mallopt(mallocMmapMax, 0)
      _ = mallopt(mallocTrimThreshold, 1 << 30)
    #endif
    return true
  }()
}

#if os(Linux)
  // From glibc's <malloc.h>, which the Glibc module does not export.
  private let mallocTrimThreshold: Int32 = -1
  private let mallocMmapMax: Int32 = -4
  @_silgen_name("mallopt")
  private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
