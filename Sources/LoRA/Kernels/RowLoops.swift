// The two shapes of a row-wise operation, so that softmax and its kin read as what they
// compute for one row: a forward pass that maps each row of the input to a row of the
// output, and a backward pass that adds each row's gradient from the incoming gradient
// and a saved row. Rows are independent: both split them across the cores, about 16,000
// floats a chunk.

/// The rows of `input`, `width` floats each, mapped by `body(row, x, y)` into a new buffer
/// of the same size: `x` points at the input row, `y` at the output row `body` must fill.
func mapRows(
  _ input: [Float], width: Int,
  _ body: (_ row: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Void
) -> [Float] {
  let rows = input.count / Swift.max(width, 1)
  return input.withUnsafeBufferPointer { x in
    makeScalars(count: input.count) { y in
      parallelChunks(rows, minimumPerChunk: Swift.max(1, (1 << 14) / Swift.max(width, 1))) {
        chunk in
        for row in chunk {
          body(row, x.baseAddress! + row * width, y.baseAddress! + row * width)
        }
      }
    }
  }
}

/// For each row of `width` floats, `body(row, dx, g, saved)` adds that row's gradient into
/// `dx`, from the incoming gradient's row `g` and the saved row (the forward's output).
func accumulateRows(
  into gradient: UnsafeMutableBufferPointer<Float>, width: Int, incoming: [Float],
  saved: [Float],
  _ body: (
    _ row: Int, _ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ saved: UnsafePointer<Float>
  ) -> Void
) {
  let rows = gradient.count / Swift.max(width, 1)
  incoming.withUnsafeBufferPointer { g in
    saved.withUnsafeBufferPointer { s in
      parallelChunks(rows, minimumPerChunk: Swift.max(1, (1 << 14) / Swift.max(width, 1))) {
        chunk in
        for row in chunk {
          let offset = row * width
          body(
            row, gradient.baseAddress! + offset, g.baseAddress! + offset, s.baseAddress! + offset)
        }
      }
    }
  }
}
