// The AVX2 and FMA element loops the header describes, and the count of matrix products.
//
// The functions follow the library's Swift loops (`FastMath.swift`) step for step, with
// each multiply-then-add fused: one rounding instead of two, so results can differ from the
// Swift loops' in the last bit, and are no less accurate.

#include "CKernels.h"

// Per thread: a product runs on the thread whose tensor operation calls it (OpenBLAS's own
// workers never call back here), so a thread's count is exactly the products it asked for,
// whatever other threads (other tests, say) multiply meanwhile.
static _Thread_local long long product_flops;

void lora_count_product(long m, long n, long k) { product_flops += 2LL * m * n * k; }

long long lora_counted_product_flops(void) { return product_flops; }

#if defined(__x86_64__)

#include <math.h>

#include "avx2.h"

static inline AVX2_FMA __m256 splat(float value) { return _mm256_set1_ps(value); }

// eˣ in range, erf, Φ, GELU and its tanh form in eight lanes (`lanes.h`): exp_in_range8,
// erf8, normal_cdf8, gelu8, exp2_in_range8, gelu_tanh_exponential8, gelu_tanh8.
#define VEC __m256
#define VECI __m256i
#define TARGET AVX2_FMA
#define LANES(name) name##8
#define SPLAT_F _mm256_set1_ps
#define SPLAT_I _mm256_set1_epi32
#define MIN _mm256_min_ps
#define MAX _mm256_max_ps
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define FMADD _mm256_fmadd_ps
#define FNMADD _mm256_fnmadd_ps
#define ADD_I _mm256_add_epi32
#define SHIFT_LEFT_I _mm256_slli_epi32
#define AS_INT _mm256_castps_si256
#define AS_FLOAT _mm256_castsi256_ps
#include "lanes.h"
/// eˣ for every float: 0 below −87.34 (no subnormals), ∞ above 88.72, NaN for NaN.
static inline AVX2_FMA __m256 exp8(__m256 x) {
  const __m256 lower = splat(-87.33655f);
  // Nearly always every lane is in range, where the clamps and the fixes below change
  // nothing: one comparison skips them (NaN fails it, and takes the long way).
  __m256 in_range = _mm256_cmp_ps(_mm256_andnot_ps(splat(-0.0f), x), splat(87.0f), _CMP_LE_OQ);
  if (_mm256_movemask_ps(in_range) == 0xFF) return exp_in_range8(x);
  // Keeps k ≤ 127, so that 2^k stays a normal float. `max` and `min` return their second
  // operand when either is NaN, so NaN passes through.
  __m256 clamped = _mm256_min_ps(splat(88.37626f), _mm256_max_ps(lower, x));
  __m256 y = exp_in_range8(clamped);
  y = _mm256_andnot_ps(_mm256_cmp_ps(x, lower, _CMP_LT_OQ), y);
  return _mm256_blendv_ps(
    y, splat(__builtin_inff()), _mm256_cmp_ps(x, splat(88.72283f), _CMP_GT_OQ));
}


static inline AVX2_FMA __m256 gelu_derivative8(__m256 x) {
  // Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π); past |x| = 13, e^(−x²/2) is below every float,
  // and the clamp keeps the exponential's argument where it needs no range checks.
  __m256 half_square =
    _mm256_max_ps(splat(-87.0f), _mm256_mul_ps(_mm256_mul_ps(splat(-0.5f), x), x));
  __m256 gaussian = _mm256_and_ps(
    exp_in_range8(half_square), _mm256_cmp_ps(half_square, splat(-87.0f), _CMP_GT_OQ));
  return _mm256_fmadd_ps(_mm256_mul_ps(x, splat(0.39894228f)), gaussian, normal_cdf8(x));
}

static inline AVX2_FMA __m256 gelu_tanh_derivative8(__m256 x) {
  __m256 e = gelu_tanh_exponential8(x);
  __m256 half_one_plus_tanh = _mm256_div_ps(splat(1.0f), _mm256_add_ps(splat(1.0f), e));
  // ½(1 + tanh u) + ½x(1 − tanh² u)·du/dx, with ½(1 − tanh² u) = 2e/(1 + e)², taken as
  // 2·(e·s)·s, s = 1/(1 + e), so that it never overflows, and du/dx = √(2/π)(1 + 3·0.044715x²).
  __m256 slope = _mm256_mul_ps(
    splat(0.79788456f),
    _mm256_fmadd_ps(_mm256_mul_ps(splat(3 * 0.044715f), x), x, splat(1.0f)));
  __m256 half_sech2 = _mm256_mul_ps(
    _mm256_mul_ps(splat(2.0f), _mm256_mul_ps(e, half_one_plus_tanh)), half_one_plus_tanh);
  return _mm256_fmadd_ps(_mm256_mul_ps(x, half_sech2), slope, half_one_plus_tanh);
}

/// The loop of a function of one element, `y[i] = f(x[i])`.
#define MAP_LOOP(f, x, y, count)                                                 \
  do {                                                                           \
    size_t i = 0;                                                                \
    for (; i + 8 <= (count); i += 8) _mm256_storeu_ps((y) + i, f(_mm256_loadu_ps((x) + i))); \
    if (i < (count)) {                                                           \
      __m256i mask = tail_mask((count) - i);                                     \
      _mm256_maskstore_ps((y) + i, mask, f(_mm256_maskload_ps((x) + i, mask)));  \
    }                                                                            \
  } while (0)

/// The loop of a gradient, `dx[i] += g[i] · f'(x[i])`.
#define GRADIENT_LOOP(derivative, x, g, dx, count)                                   \
  do {                                                                               \
    size_t i = 0;                                                                    \
    for (; i + 8 <= (count); i += 8) {                                               \
      __m256 d = derivative(_mm256_loadu_ps((x) + i));                               \
      _mm256_storeu_ps(                                                              \
        (dx) + i, _mm256_fmadd_ps(_mm256_loadu_ps((g) + i), d, _mm256_loadu_ps((dx) + i))); \
    }                                                                                \
    if (i < (count)) {                                                               \
      __m256i mask = tail_mask((count) - i);                                         \
      __m256 d = derivative(_mm256_maskload_ps((x) + i, mask));                      \
      __m256 sum = _mm256_fmadd_ps(                                                  \
        _mm256_maskload_ps((g) + i, mask), d, _mm256_maskload_ps((dx) + i, mask));   \
      _mm256_maskstore_ps((dx) + i, mask, sum);                                      \
    }                                                                                \
  } while (0)

// `exp` and the two GELUs again in sixteen lanes, for CPUs with AVX-512: the eight-lane
// functions' operations, from the same source (`lanes.h`), so every element gets the same
// bits either way. All three are bound by arithmetic (a division and a dozen multiply-adds
// an element for the GELUs), and on Zen 4, whose AVX-512 units are 256 bits wide, half the
// instructions still take `gelu_new` from 0.35 to 0.25 ns an element on one core.

#define AVX512 __attribute__((target("avx512f")))

// The same functions in sixteen lanes: exp_in_range16, erf16, normal_cdf16, gelu16,
// exp2_in_range16, gelu_tanh_exponential16, gelu_tanh16.
#define VEC __m512
#define VECI __m512i
#define TARGET AVX512
#define LANES(name) name##16
#define SPLAT_F _mm512_set1_ps
#define SPLAT_I _mm512_set1_epi32
#define MIN _mm512_min_ps
#define MAX _mm512_max_ps
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define DIV _mm512_div_ps
#define FMADD _mm512_fmadd_ps
#define FNMADD _mm512_fnmadd_ps
#define ADD_I _mm512_add_epi32
#define SHIFT_LEFT_I _mm512_slli_epi32
#define AS_INT _mm512_castps_si512
#define AS_FLOAT _mm512_castsi512_ps
#include "lanes.h"

/// `MAP_LOOP` in sixteen lanes; the last, partial group through a lane mask.
#define MAP_LOOP16(f, x, y, count)                                              \
  do {                                                                          \
    size_t i = 0;                                                               \
    for (; i + 16 <= (count); i += 16) _mm512_storeu_ps((y) + i, f(_mm512_loadu_ps((x) + i))); \
    if (i < (count)) {                                                          \
      __mmask16 mask = (__mmask16)((1u << ((count) - i)) - 1);                  \
      _mm512_mask_storeu_ps((y) + i, mask, f(_mm512_maskz_loadu_ps(mask, (x) + i))); \
    }                                                                           \
  } while (0)

/// `exp8` in sixteen lanes: the same clamps and fixes, through AVX-512's mask registers
/// (its compares give masks, not vectors), so every lane gets `exp8`'s bits.
static inline AVX512 __m512 exp16(__m512 x) {
  const __m512 lower = _mm512_set1_ps(-87.33655f);
  __mmask16 in_range = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(87.0f), _CMP_LE_OQ);
  if (in_range == 0xFFFF) return exp_in_range16(x);
  __m512 clamped = _mm512_min_ps(_mm512_set1_ps(88.37626f), _mm512_max_ps(lower, x));
  __m512 y = exp_in_range16(clamped);
  // Zero below the lower bound, ∞ above the upper one.
  y = _mm512_maskz_mov_ps((__mmask16)~_mm512_cmp_ps_mask(x, lower, _CMP_LT_OQ), y);
  return _mm512_mask_blend_ps(
    _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72283f), _CMP_GT_OQ), y,
    _mm512_set1_ps(__builtin_inff()));
}

static AVX512 void exp_avx512(const float *x, float *y, size_t count) {
  MAP_LOOP16(exp16, x, y, count);
}

static AVX512 void gelu_avx512(const float *x, float *y, size_t count) {
  MAP_LOOP16(gelu16, x, y, count);
}

static AVX512 void gelu_tanh_avx512(const float *x, float *y, size_t count) {
  MAP_LOOP16(gelu_tanh16, x, y, count);
}

AVX2_FMA void lora_exp_eight_lanes(const float *x, float *y, size_t count) {
  MAP_LOOP(exp8, x, y, count);
}

void lora_exp(const float *x, float *y, size_t count) {
  if (lora_has_avx512()) exp_avx512(x, y, count);
  else lora_exp_eight_lanes(x, y, count);
}

AVX2_FMA void lora_gelu_eight_lanes(const float *x, float *y, size_t count) {
  MAP_LOOP(gelu8, x, y, count);
}

AVX2_FMA void lora_gelu_tanh_eight_lanes(const float *x, float *y, size_t count) {
  MAP_LOOP(gelu_tanh8, x, y, count);
}

void lora_gelu(const float *x, float *y, size_t count) {
  if (lora_has_avx512()) gelu_avx512(x, y, count);
  else lora_gelu_eight_lanes(x, y, count);
}

void lora_gelu_tanh(const float *x, float *y, size_t count) {
  if (lora_has_avx512()) gelu_tanh_avx512(x, y, count);
  else lora_gelu_tanh_eight_lanes(x, y, count);
}

AVX2_FMA void lora_gelu_backward(const float *x, const float *g, float *dx, size_t count) {
  GRADIENT_LOOP(gelu_derivative8, x, g, dx, count);
}

AVX2_FMA void lora_gelu_tanh_backward(const float *x, const float *g, float *dx, size_t count) {
  GRADIENT_LOOP(gelu_tanh_derivative8, x, g, dx, count);
}

/// The sum of the eight lanes, in a fixed order.
static inline AVX2_FMA float sum8(__m256 lanes) {
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(half, _mm_movehdup_ps(half)));
}

/// exp(scale · (x[i] − shift)) into `y` (unless it is NULL) and their sum.
static inline AVX2_FMA float shifted_exp_sum(
  const float *x, float *y, size_t count, float scale, float shift
) {
  // scale · x − scale · shift in one fused step (exactly x − shift when scale is 1).
  const __m256 scales = splat(scale), offsets = splat(scale * shift);
  // Two sums, so that each addition need not wait for the one before.
  __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m256 a = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), scales, offsets));
    __m256 b = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i + 8), scales, offsets));
    if (y) {
      _mm256_storeu_ps(y + i, a);
      _mm256_storeu_ps(y + i + 8, b);
    }
    even = _mm256_add_ps(even, a);
    odd = _mm256_add_ps(odd, b);
  }
  for (; i < count; i += 8) {
    __m256i mask = tail_mask(count - i);
    __m256 e = exp8(_mm256_fmsub_ps(_mm256_maskload_ps(x + i, mask), scales, offsets));
    if (y) _mm256_maskstore_ps(y + i, mask, e);
    // The padding lanes held 0, whose exp may be anything up to infinity: leave them out.
    even = _mm256_add_ps(even, _mm256_and_ps(e, _mm256_castsi256_ps(mask)));
  }
  return sum8(_mm256_add_ps(even, odd));
}

AVX2_FMA float lora_shifted_exp(
  const float *x, float *y, size_t count, float scale, float shift
) {
  return shifted_exp_sum(x, y, count, scale, shift);
}

AVX2_FMA float lora_max(const float *x, size_t count) {
  const __m256 none = splat(-__builtin_inff());
  __m256 lanes = none;
  size_t i = 0;
  // `max` returns its second operand when either is NaN: `lanes`, so a NaN is passed over,
  // as the Swift loop's comparison does.
  for (; i + 8 <= count; i += 8) lanes = _mm256_max_ps(_mm256_loadu_ps(x + i), lanes);
  if (i < count) {
    __m256 mask = _mm256_castsi256_ps(tail_mask(count - i));
    __m256 v = _mm256_blendv_ps(none, _mm256_maskload_ps(x + i, _mm256_castps_si256(mask)), mask);
    lanes = _mm256_max_ps(v, lanes);
  }
  __m128 half = _mm_max_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
  half = _mm_max_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_max_ss(half, _mm_movehdup_ps(half)));
}

/// A row's largest value, or 0 for a row with none above −∞ (fully masked), which keeps
/// exp at 0 rather than NaN from −∞ − (−∞).
static inline AVX2_FMA float row_shift(const float *x, size_t count) {
  float largest = lora_max(x, count);
  return largest == -__builtin_inff() ? 0 : largest;
}

AVX2_FMA void lora_softmax_row(const float *x, float *y, size_t count, float scale) {
  float total = shifted_exp_sum(x, y, count, scale, row_shift(x, count));
  const __m256 inverse = splat(1 / total);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inverse));
  if (i < count) {
    __m256i mask = tail_mask(count - i);
    _mm256_maskstore_ps(y + i, mask, _mm256_mul_ps(_mm256_maskload_ps(y + i, mask), inverse));
  }
}

AVX2_FMA float lora_log_sum_exp(const float *x, size_t count) {
  float shift = row_shift(x, count);
  return logf(shifted_exp_sum(x, NULL, count, 1, shift)) + shift;
}

/// `y[j] (+)= Σ_i x[i] · w[i·ldw + j]`: a row times a row-major [k, n] weight (a Conv1D's, or
/// a Linear's transposed), eight weight rows at a time, each read straight through.
AVX2_FMA void lora_vector_times_matrix(
  const float *x, const float *w, size_t ldw, size_t k, float *y, size_t n, int accumulate
) {
  if (!accumulate) {
    for (size_t j = 0; j < n; j++) y[j] = 0;
  }
  size_t i = 0;
  // Eight rows at a time: eight streams in flight, and y read and written once per eight.
  for (; i + 8 <= k; i += 8) {
    __m256 xs[8];
    const float *rows[8];
    for (int r = 0; r < 8; r++) {
      xs[r] = splat(x[i + r]);
      rows[r] = w + (i + r) * ldw;
    }
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      __m256 sum = _mm256_loadu_ps(y + j);
      for (int r = 0; r < 8; r++) sum = _mm256_fmadd_ps(xs[r], _mm256_loadu_ps(rows[r] + j), sum);
      _mm256_storeu_ps(y + j, sum);
    }
    for (; j < n; j++) {
      float sum = y[j];
      for (int r = 0; r < 8; r++) sum = fmaf(x[i + r], rows[r][j], sum);
      y[j] = sum;
    }
  }
  for (; i < k; i++) {
    const __m256 xi = splat(x[i]);
    const float *row = w + i * ldw;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      _mm256_storeu_ps(y + j, _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + j), _mm256_loadu_ps(y + j)));
    }
    for (; j < n; j++) y[j] = fmaf(x[i], row[j], y[j]);
  }
}

/// `y[j] (+)= Σ_i w[j·ldw + i] · x[i]`: a row-major [n, k] weight (a Linear's, or GPT-2's tied
/// head) times a vector, one dot product per weight row, each row read straight through.
AVX2_FMA void lora_matrix_times_vector(
  const float *w, size_t ldw, const float *x, size_t k, float *y, size_t n, int accumulate
) {
  for (size_t j = 0; j < n; j++) {
    const float *row = w + j * ldw;
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= k; i += 32) {
      a = _mm256_fmadd_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(x + i), a);
      b = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(x + i + 8), b);
      c = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 16), _mm256_loadu_ps(x + i + 16), c);
      d = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 24), _mm256_loadu_ps(x + i + 24), d);
    }
    for (; i < k; i += 8) {
      __m256i mask = tail_mask(k - i);
      a = _mm256_fmadd_ps(_mm256_maskload_ps(row + i, mask), _mm256_maskload_ps(x + i, mask), a);
    }
    float dot = sum8(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    y[j] = accumulate ? y[j] + dot : dot;
  }
}

#else

// Other CPUs keep the Swift loops; these are never called there.
void lora_exp(const float *x, float *y, size_t count) {}
void lora_exp_eight_lanes(const float *x, float *y, size_t count) {}
float lora_shifted_exp(const float *x, float *y, size_t count, float scale, float shift) {
  return 0;
}
float lora_max(const float *x, size_t count) { return 0; }
void lora_softmax_row(const float *x, float *y, size_t count, float scale) {}
float lora_log_sum_exp(const float *x, size_t count) { return 0; }
void lora_vector_times_matrix(
  const float *x, const float *w, size_t ldw, size_t k, float *y, size_t n, int accumulate) {}
void lora_matrix_times_vector(
  const float *w, size_t ldw, const float *x, size_t k, float *y, size_t n, int accumulate) {}
void lora_gelu(const float *x, float *y, size_t count) {}
void lora_gelu_backward(const float *x, const float *g, float *dx, size_t count) {}
void lora_gelu_tanh(const float *x, float *y, size_t count) {}
void lora_gelu_eight_lanes(const float *x, float *y, size_t count) {}
void lora_gelu_tanh_eight_lanes(const float *x, float *y, size_t count) {}
void lora_gelu_tanh_backward(const float *x, const float *g, float *dx, size_t count) {}

#endif
