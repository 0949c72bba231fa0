// The small products of attention, `C (+)= A·B`, in AVX2 and FMA (`lora_block_product`).
//
// Attention's products are small and thin: a block of 64 queries times at most a few hundred
// keys, over a head of 32 numbers. OpenBLAS packs both operands into its own layout before
// each such call and runs them at about half the rate of its large products. Here there is
// no packing: A is read where it lies (rows or columns, any stride), B row by row, and C is
// written in tiles of 6 rows × 16 columns, twelve accumulators that stay in registers for
// the whole sum.

#include "CKernels.h"

/// Rows `row_begin..<row_end` and columns `column_begin..<column_end` of `x` (rows `stride`
/// apart) into their places in its transpose `y` (rows `y_stride` apart), one float at a
/// time: the whole matrix on CPUs without AVX2, the ragged edges of the 8 × 8 blocks else.
static void transpose_scalar(
  const float *x, long row_begin, long row_end, long column_begin, long column_end, long stride,
  float *y, long y_stride) {
  for (long r = row_begin; r < row_end; r++) {
    for (long c = column_begin; c < column_end; c++) y[c * y_stride + r] = x[r * stride + c];
  }
}

#if defined(__x86_64__)

#include "avx2.h"

#define INLINE static inline __attribute__((always_inline)) AVX2_FMA

INLINE __m256 load(const float *p, int masked, __m256i mask) {
  return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

INLINE void store(float *p, __m256 x, int masked, __m256i mask) {
  if (masked) {
    _mm256_maskstore_ps(p, mask, x);
  } else {
    _mm256_storeu_ps(p, x);
  }
}

/// One tile of `rows` ≤ 6 rows and `vectors` ≤ 2 groups of eight columns, the last group
/// masked when `masked`: its whole sum over `k` in registers, then one store. The arguments
/// that shape the tile are constants wherever it is inlined, so the loops unroll away.
INLINE void tile(
  int rows, int vectors, int masked, __m256i mask, long k, const float *a, long a_row,
  long a_column, const float *b, long ldb, float *c, long ldc, int accumulate) {
  __m256 sum[6][2];
  for (int r = 0; r < 6; r++) sum[r][0] = sum[r][1] = _mm256_setzero_ps();
  for (long t = 0; t < k; t++) {
    const float *row = b + t * ldb;
    __m256 b0 = load(row, masked && vectors == 1, mask);
    __m256 b1 = vectors == 2 ? load(row + 8, masked, mask) : _mm256_setzero_ps();
    const float *column = a + t * a_column;
    for (int r = 0; r < rows; r++) {
      __m256 x = _mm256_broadcast_ss(column + r * a_row);
      sum[r][0] = _mm256_fmadd_ps(x, b0, sum[r][0]);
      if (vectors == 2) sum[r][1] = _mm256_fmadd_ps(x, b1, sum[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    for (int v = 0; v < vectors; v++) {
      float *target = c + r * ldc + 8 * v;
      int last = masked && v == vectors - 1;
      __m256 value = sum[r][v];
      if (accumulate) value = _mm256_add_ps(load(target, last, mask), value);
      store(target, value, last, mask);
    }
  }
}

/// The t in `begin..<end` that a tile's sum runs over: all of 0..<k, or, where A is known to
/// be zero on one side of a diagonal for every row of the tile, the rest.
typedef struct {
  long begin, end;
} span;

INLINE span sum_range(int triangle, long diagonal, long first_row, int rows, long k) {
  span range = {0, k};
  if (triangle == LORA_A_LOWER) {
    long end = first_row + rows + diagonal;  // the last row's last nonzero t, plus one
    range.end = end < k ? (end > 0 ? end : 0) : k;
  } else if (triangle == LORA_A_UPPER) {
    long begin = first_row + diagonal;  // the first row's first nonzero t
    range.begin = begin > 0 ? (begin < k ? begin : k) : 0;
  }
  return range;
}

/// A tile of `rows` rows, each argument a constant so that the tile's loops unroll.
#define TILE_CASE(rows, vectors, masked)                                                      \
  case rows:                                                                                  \
    tile(rows, vectors, masked, mask, kt, at, a_row, a_column, bt, ldb, c + r * ldc, ldc,     \
      accumulate);                                                                            \
    break;

/// Every row of one strip of columns from `first_row` on: tiles of six rows, then one of
/// the rest. Returns the tiles' rows times their sums' lengths.
#define STRIP(name, vectors, masked)                                                         \
  static AVX2_FMA long name(                                                                 \
    __m256i mask, long first_row, long m, long k, const float *a, long a_row, long a_column, \
    const float *b, long ldb, float *c, long ldc, int accumulate, int triangle,              \
    long diagonal) {                                                                         \
    long work = 0;                                                                           \
    for (long r = first_row; r < m; r += 6) {                                                \
      int rows = m - r < 6 ? (int)(m - r) : 6;                                               \
      span t = sum_range(triangle, diagonal, r, rows, k);                                    \
      const float *at = a + r * a_row + t.begin * a_column;                                  \
      const float *bt = b + t.begin * ldb;                                                   \
      long kt = t.end - t.begin;                                                             \
      work += rows * kt;                                                                     \
      switch (rows) {                                                                        \
        TILE_CASE(6, vectors, masked) TILE_CASE(5, vectors, masked)                          \
        TILE_CASE(4, vectors, masked) TILE_CASE(3, vectors, masked)                          \
        TILE_CASE(2, vectors, masked) TILE_CASE(1, vectors, masked)                          \
      }                                                                                      \
    }                                                                                        \
    return work;                                                                             \
  }

STRIP(strip16, 2, 0)
STRIP(strip16_masked, 2, 1)
STRIP(strip8, 1, 0)
STRIP(strip8_masked, 1, 1)

AVX2_FMA long lora_block_product(
  long m, long n, long k, const float *a, long a_row, long a_column, const float *b, long ldb,
  float *c, long ldc, int accumulate, int triangle, long diagonal) {
  if (m <= 0 || n <= 0) return 0;
  const __m256i all = _mm256_set1_epi32(-1);
  long work = 0;
  for (long j = 0; j < n; j += 16) {
    // With C's upper triangle unwanted, the strip's columns are needed from the row where
    // its first column reaches the diagonal.
    long first_row = 0;
    if (triangle == LORA_C_LOWER && j - diagonal > 0) first_row = (j - diagonal) / 6 * 6;
    if (first_row >= m) break;
    long rest = n - j;
#define ARGUMENTS first_row, m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate, \
  triangle, diagonal
    if (rest >= 16) {
      work += 16 * strip16(all, ARGUMENTS);
    } else if (rest > 8) {
      work += rest * strip16_masked(tail_mask(rest - 8), ARGUMENTS);
    } else if (rest == 8) {
      work += 8 * strip8(all, ARGUMENTS);
    } else {
      work += rest * strip8_masked(tail_mask(rest), ARGUMENTS);
    }
#undef ARGUMENTS
  }
  return work;
}

/// Eight rows of eight floats, `x` rows `stride` apart, into their transpose at `y`, rows
/// `y_stride` apart: in registers, by the usual unpack and shuffle steps.
INLINE void transpose8x8(const float *x, long stride, float *y, long y_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(x + i * stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // r[0..3] hold columns 0, 1, 2, 3 of rows 0–3 (low half) and of rows 0–3 of columns
  // 4–7 (high half); r[4..7] the same for rows 4–7.
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(y + i * y_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(y + (i + 4) * y_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

static AVX2_FMA void transpose_avx2(
  const float *x, long rows, long columns, long stride, float *y, long y_stride) {
  long full_rows = rows / 8 * 8, full_columns = columns / 8 * 8;
  for (long r = 0; r < full_rows; r += 8) {
    for (long c = 0; c < full_columns; c += 8) {
      transpose8x8(x + r * stride + c, stride, y + c * y_stride + r, y_stride);
    }
    transpose_scalar(x, r, r + 8, full_columns, columns, stride, y, y_stride);
  }
  transpose_scalar(x, full_rows, rows, 0, columns, stride, y, y_stride);
}

void lora_transpose(
  const float *x, long rows, long columns, long stride, float *y, long y_stride) {
  if (lora_has_avx2_fma()) {
    transpose_avx2(x, rows, columns, stride, y, y_stride);
  } else {
    transpose_scalar(x, 0, rows, 0, columns, stride, y, y_stride);
  }
}

#else

void lora_transpose(
  const float *x, long rows, long columns, long stride, float *y, long y_stride) {
  transpose_scalar(x, 0, rows, 0, columns, stride, y, y_stride);
}

long lora_block_product(
  long m, long n, long k, const float *a, long a_row, long a_column, const float *b, long ldb,
  float *c, long ldc, int accumulate, int triangle, long diagonal) {
  return 0;
}

#endif
