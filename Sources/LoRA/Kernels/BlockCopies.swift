// The loops of slicing and concatenation: `blocks` runs of `width` floats, one every
// `stride` floats on one side and packed (or at another stride) on the other. A GPT layer
// cuts its fused query/key/value product into 3·H slices of head size (32 floats) per
// position, 4,096 positions a batch: one `memmove` call per 128 bytes, on one core, cost
// as much as the product's own forward. These copy short runs in eight-lane steps, long
// ones with `memmove`, and split the blocks across the cores when there are enough.

/// A strided run of blocks: block `b` starts at `base + b · stride`.
struct StridedBlocks {
  var base: Int
  var stride: Int
}

/// Runs `body(block)` for every block of `0..<blocks`, on every core once there are about
/// 32,000 floats to move.
@inline(__always)
private func forEachBlock(_ blocks: Int, width: Int, _ body: (Int) -> Void) {
  parallelChunks(blocks, minimumPerChunk: Swift.max(1, (1 << 15) / Swift.max(width, 1))) {
    chunk in
    for block in chunk { body(block) }
  }
}

/// `target[i] = source[i]` for `count` floats.
@inline(__always)
func copyFloats(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
  // Past a few hundred floats, memmove's own loop (wider stores, no per-call cost to
  // amortise) is the faster one.
  guard count < 256 else {
    target.update(from: source, count: count)
    return
  }
  let rest = forEachGroupOfEight(count) { i in store8(load8(source + i), target + i) }
  for i in rest..<count { target[i] = source[i] }
}

/// Copies `blocks` blocks of `width` floats from `source` to `target`, each at its own
/// layout.
func copyBlocks(
  _ blocks: Int, width: Int, from source: UnsafePointer<Float>, _ from: StridedBlocks,
  to target: UnsafeMutablePointer<Float>, _ to: StridedBlocks
) {
  forEachBlock(blocks, width: width) { block in
    copyFloats(
      target + to.base + block * to.stride, source + from.base + block * from.stride,
      count: width)
  }
}

/// Adds `blocks` blocks of `width` floats from `source` into `target`, each at its own
/// layout.
func addBlocks(
  _ blocks: Int, width: Int, from source: UnsafePointer<Float>, _ from: StridedBlocks,
  into target: UnsafeMutablePointer<Float>, _ to: StridedBlocks
) {
  forEachBlock(blocks, width: width) { block in
    addAssign(
      target + to.base + block * to.stride, source + from.base + block * from.stride,
      count: width)
  }
}

/// Writes `blocks` blocks of `width` floats from `source` into a fresh `target` of
/// `blocks` rows of `stride` floats, and zeros over the rest of each row: the first
/// gradient of a slice, written in one pass instead of zeroing the whole buffer and adding.
func copyBlocksZeroingTheRest(
  _ blocks: Int, width: Int, from source: UnsafePointer<Float>, sourceStride: Int,
  into target: UnsafeMutablePointer<Float>, offset: Int, stride: Int
) {
  forEachBlock(blocks, width: stride) { block in
    let row = target + block * stride
    row.update(repeating: 0, count: offset)
    copyFloats(row + offset, source + block * sourceStride, count: width)
    (row + offset + width).update(repeating: 0, count: stride - offset - width)
  }
}

extension GradNode {
  /// Hands this node, whose tensor is `blocks` packed blocks of `width` floats, those blocks
  /// of `source` laid out as `from`: written as its first gradient, added to a later one. The
  /// backward of a concatenation, or of anything that placed its inputs in columns.
  func accumulateBlocks(
    _ blocks: Int, width: Int, from source: UnsafePointer<Float>, _ from: StridedBlocks
  ) {
    let packed = StridedBlocks(base: 0, stride: width)
    accumulateOrWrite { target, fresh in
      if fresh {
        copyBlocks(blocks, width: width, from: source, from, to: target.baseAddress!, packed)
      } else {
        addBlocks(blocks, width: width, from: source, from, into: target.baseAddress!, packed)
      }
    }
  }
}
