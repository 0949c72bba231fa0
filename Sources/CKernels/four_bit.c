// The 4-bit weights' two loops (`FourBitWeight`): dequantizing a run of codes, and a row-major
// 4-bit matrix times a vector (a token meeting a 4-bit layer in generation), which never
// writes the weight out as floats. Codes are packed two per byte, the first in the high
// nibble, as bitsandbytes packs them; `scales` holds one float per `block_size` codes.
//
// Each weight is `levels[code] · scale`, one rounding, as bitsandbytes' `dequantize_4bit`
// computes it; the AVX2 loops compute the same products, so both paths agree bit for bit.

#include "CKernels.h"

static inline unsigned code_at(const uint8_t *packed, long index) {
  uint8_t byte = packed[index >> 1];
  return (index & 1) ? (byte & 0x0F) : (byte >> 4);
}

static void dequantize_plain(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out
) {
  for (long i = 0; i < count; i++) {
    long index = first + i;
    out[i] = levels[code_at(packed, index)] * scales[index / block_size];
  }
}

__attribute__((unused)) static float dot_plain(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, const float *x
) {
  float sum = 0;
  for (long i = 0; i < count; i++) {
    long index = first + i;
    sum += levels[code_at(packed, index)] * scales[index / block_size] * x[i];
  }
  return sum;
}

#if defined(__x86_64__)

#include "avx2.h"

// The 16 codes of 8 bytes, in order, as two groups of eight 32-bit lanes.
static inline AVX2_FMA void unpack16(const uint8_t *bytes, __m256i *first, __m256i *second) {
  __m128i raw = _mm_loadl_epi64((const __m128i *)bytes);
  __m128i low_nibbles = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
  __m128i high_nibbles = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
  __m128i codes = _mm_unpacklo_epi8(high_nibbles, low_nibbles);  // high nibble first
  *first = _mm256_cvtepu8_epi32(codes);
  *second = _mm256_cvtepu8_epi32(_mm_srli_si128(codes, 8));
}

// levels[code] for eight codes: codes 0–7 from one register, 8–15 from the other.
static inline AVX2_FMA __m256 look_up(__m256i codes, __m256 low_levels, __m256 high_levels) {
  __m256 low = _mm256_permutevar8x32_ps(low_levels, codes);
  __m256 high = _mm256_permutevar8x32_ps(high_levels, codes);
  // Bit 3 of the code, moved to the sign bit, picks the upper half.
  return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28)));
}

AVX2_FMA void lora_dequantize_4bit(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out
) {
  __m256 low_levels = _mm256_loadu_ps(levels), high_levels = _mm256_loadu_ps(levels + 8);
  long i = 0;
  while (i < count) {
    long index = first + i;
    long block = index / block_size;
    long run = (block + 1) * block_size - index;  // codes left in this block
    if (run > count - i) run = count - i;
    float scale = scales[block];
    long j = 0;
    if ((index & 1) == 0) {
      __m256 s = _mm256_set1_ps(scale);
      for (; j + 16 <= run; j += 16) {
        __m256i a, b;
        unpack16(packed + ((index + j) >> 1), &a, &b);
        _mm256_storeu_ps(out + i + j, _mm256_mul_ps(look_up(a, low_levels, high_levels), s));
        _mm256_storeu_ps(out + i + j + 8, _mm256_mul_ps(look_up(b, low_levels, high_levels), s));
      }
    }
    for (; j < run; j++) out[i + j] = levels[code_at(packed, index + j)] * scale;
    i += run;
  }
}

AVX2_FMA void lora_4bit_matrix_times_vector(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long columns,
  const float *x, float *y, long first_row, long rows
) {
  __m256 low_levels = _mm256_loadu_ps(levels), high_levels = _mm256_loadu_ps(levels + 8);
  for (long r = 0; r < rows; r++) {
    long row = first_row + r;
    long start = row * columns;
    float total = 0;
    long i = 0;
    while (i < columns) {
      long index = start + i;
      long block = index / block_size;
      long run = (block + 1) * block_size - index;
      if (run > columns - i) run = columns - i;
      // Σ levels[code] · x over the run, then one multiply by the scale: the block's sum
      // as bitsandbytes' gemv_4bit forms it.
      __m256 a_sum = _mm256_setzero_ps(), b_sum = _mm256_setzero_ps();
      long j = 0;
      if ((index & 1) == 0) {
        for (; j + 16 <= run; j += 16) {
          __m256i a, b;
          unpack16(packed + ((index + j) >> 1), &a, &b);
          a_sum = _mm256_fmadd_ps(
            look_up(a, low_levels, high_levels), _mm256_loadu_ps(x + i + j), a_sum);
          b_sum = _mm256_fmadd_ps(
            look_up(b, low_levels, high_levels), _mm256_loadu_ps(x + i + j + 8), b_sum);
        }
      }
      __m256 both = _mm256_add_ps(a_sum, b_sum);
      __m128 half = _mm_add_ps(_mm256_castps256_ps128(both), _mm256_extractf128_ps(both, 1));
      half = _mm_add_ps(half, _mm_movehl_ps(half, half));
      half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
      float run_sum = _mm_cvtss_f32(half);
      for (; j < run; j++) run_sum += levels[code_at(packed, index + j)] * x[i + j];
      total += run_sum * scales[block];
      i += run;
    }
    y[r] = total;
  }
}

#else

void lora_dequantize_4bit(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out
) {
  dequantize_plain(packed, levels, scales, block_size, first, count, out);
}

void lora_4bit_matrix_times_vector(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long columns,
  const float *x, float *y, long first_row, long rows
) {
  for (long r = 0; r < rows; r++) {
    y[r] = dot_plain(packed, levels, scales, block_size, (first_row + r) * columns, columns, x);
  }
}

#endif

void lora_dequantize_4bit_portable(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out
) {
  dequantize_plain(packed, levels, scales, block_size, first, count, out);
}
