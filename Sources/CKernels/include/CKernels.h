// The library's element loops in AVX2 and FMA, for x86-64 CPUs that have both (Haswell and
// Zen onwards): Swift compiles for baseline x86-64, four SSE lanes and no fused multiply-add,
// and cannot mark one function for a wider target. The library asks `lora_has_avx2_fma()`
// (`cpu.c`: the CPU's level, or a lower one that `LORA_ISA` asks for) and keeps its portable
// Swift loops for every other CPU.
//
// Each function gives every element the same result wherever it stands: the last few
// elements go through the same eight-lane code as the rest, padded.
//
// Also here: the count of matrix products, and the worker pool that runs the library's
// parallel loops (`pool.c`).

#ifndef LORA_CKERNELS_H
#define LORA_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// What CPUID says of this CPU, each extension 1 only where the operating system also saves
/// its registers (XCR0). `vendor` is CPUID's twelve letters ("GenuineIntel", "AuthenticAMD").
struct lora_cpu {
  char vendor[13];
  int family, model;
  int sse3, avx, fma, avx2;
  int avx512f, avx512dq, avx512cd, avx512bw, avx512vl, avx512bf16, avx512fp16, amx;
};

/// Reads this CPU's facts (all zero on other architectures).
void lora_read_cpu(struct lora_cpu *cpu);

/// The instruction set levels of the library's own kernels: the portable Swift and C loops;
/// AVX2 with FMA (Haswell, Zen and later); and AVX-512F beside them (sixteen-lane exp and
/// GELUs).
enum lora_isa_level { LORA_ISA_BASELINE = 0, LORA_ISA_AVX2 = 1, LORA_ISA_AVX512 = 2 };

/// The highest level this CPU (and its operating system) runs.
int lora_cpu_isa(void);

/// The level the kernels use: the CPU's, limited by `LORA_ISA=avx512|avx2|baseline` (read
/// once; any other value stops the program with a message) or by `lora_limit_isa`.
int lora_isa(void);

/// Limits the kernels to `limit` (a `lora_isa_level`, never above the CPU's) from the next
/// call on; −1 goes back to `LORA_ISA`'s limit. For tests that run every level in one process.
void lora_limit_isa(int limit);

/// 1 when the kernels run AVX2 and FMA (`lora_isa() >= LORA_ISA_AVX2`), else 0.
int lora_has_avx2_fma(void);

/// 1 when the kernels also run AVX-512F: `lora_exp`, `lora_gelu` and `lora_gelu_tanh` then run
/// sixteen lanes at a time, with the same result for every element.
int lora_has_avx512(void);

/// `y[i] = exp(x[i])`: 0 below -87.34, infinity above 88.72, NaN for NaN. Sixteen lanes at a
/// time on CPUs with AVX-512, with the eight-lane loop's bits.
void lora_exp(const float *x, float *y, size_t count);

/// `lora_exp`'s eight-lane loop, whatever the CPU: what its sixteen-lane loop must match.
void lora_exp_eight_lanes(const float *x, float *y, size_t count);

/// `y[i] = exp(scale * (x[i] - shift))`; returns the sum of the `y[i]`. (Softmax's numerator
/// and denominator in one pass.)
float lora_shifted_exp(const float *x, float *y, size_t count, float scale, float shift);

/// The largest of `count` floats (at least one), NaN passed over; −∞ when there is none.
float lora_max(const float *x, size_t count);

/// One row's softmax, `y[i] = exp(scale · (x[i] − max)) / Σ`, with the max taken as 0 in a
/// row that is all −∞.
void lora_softmax_row(const float *x, float *y, size_t count, float scale);

/// log Σ exp(x[i]), computed as max + log Σ exp(x[i] − max), for `count` ≥ 1 floats.
float lora_log_sum_exp(const float *x, size_t count);

/// `y[i] = x[i] * Φ(x[i])`, the exact GELU, with Φ the standard normal distribution's CDF.
void lora_gelu(const float *x, float *y, size_t count);

/// `dx[i] += g[i] * GELU'(x[i])`.
void lora_gelu_backward(const float *x, const float *g, float *dx, size_t count);

/// `y[i] = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, GELU's tanh form (GPT-2's `gelu_new`).
void lora_gelu_tanh(const float *x, float *y, size_t count);

/// The two GELUs' eight-lane loops, whatever the CPU: what `lora_gelu` and `lora_gelu_tanh`
/// run without AVX-512, and what their sixteen-lane loops must match bit for bit.
void lora_gelu_eight_lanes(const float *x, float *y, size_t count);
void lora_gelu_tanh_eight_lanes(const float *x, float *y, size_t count);

/// `dx[i] += g[i] * d/dx of the tanh form at x[i]`.
void lora_gelu_tanh_backward(const float *x, const float *g, float *dx, size_t count);

/// `y[j] = Σ_i x[i] · w[i·ldw + j]` for j in 0..<n (or `+=`, with `accumulate`): a row of k
/// values times a row-major [k, n] weight, as a token meets a Conv1D in generation.
void lora_vector_times_matrix(
  const float *x, const float *w, size_t ldw, size_t k, float *y, size_t n, int accumulate);

/// `y[j] = Σ_i w[j·ldw + i] · x[i]` for j in 0..<n (or `+=`, with `accumulate`): a row-major
/// [n, k] weight times a vector, as a token meets a Linear or a tied head in generation.
void lora_matrix_times_vector(
  const float *w, size_t ldw, const float *x, size_t k, float *y, size_t n, int accumulate);

/// Weights `first..<first + count` of a 4-bit matrix as floats: `out[i] = levels[code] ·
/// scales[(first + i) / block_size]`, codes packed two per byte, high nibble first. AVX2
/// where the CPU has it (the caller checks), else plain C; the same products either way.
void lora_dequantize_4bit(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out);

/// `lora_dequantize_4bit` in plain C, on any CPU.
void lora_dequantize_4bit_portable(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long first,
  long count, float *out);

/// `y[r] = Σ_i W[first_row + r, i] · x[i]` for r in 0..<rows, W a 4-bit `[?, columns]`
/// matrix stored as `lora_dequantize_4bit` reads it: each block's codes summed against x,
/// then scaled once. Only on CPUs with AVX2 and FMA.
void lora_4bit_matrix_times_vector(
  const uint8_t *packed, const float *levels, const float *scales, long block_size, long columns,
  const float *x, float *y, long first_row, long rows);

/// What `lora_block_product` may skip, given a `diagonal` d: nothing; the sum's terms with
/// t > r + d (A is zero there, as causal weights are above their diagonal); those with
/// t < r + d (A is zero there, as transposed causal weights are); or the outputs with
/// j > r + d (nobody reads them: they are left as they were, or partly written).
enum lora_triangle { LORA_FULL = 0, LORA_A_LOWER = 1, LORA_A_UPPER = 2, LORA_C_LOWER = 3 };

/// `c[r·ldc + j] = Σ_t a[r·a_row + t·a_column] · b[t·ldb + j]` for r in 0..<m, j in 0..<n
/// (or `+=`, with `accumulate`): A is m × k wherever it lies, by rows (`a_column` 1) or by
/// columns (`a_row` 1, a transposed matrix), B is k × n by rows. Skips what `triangle` and
/// `diagonal` say may be skipped, in whole tiles of 6 rows × 16 columns. For attention's
/// small products, single-threaded, with no packing; only on CPUs with AVX2 and FMA.
/// Returns the multiply-adds it did.
long lora_block_product(
  long m, long n, long k, const float *a, long a_row, long a_column, const float *b, long ldb,
  float *c, long ldc, int accumulate, int triangle, long diagonal);

/// `y[c·y_stride + r] = x[r·stride + c]`: a `rows × columns` matrix, rows `stride` apart,
/// into its transpose, rows `y_stride` apart.
void lora_transpose(
  const float *x, long rows, long columns, long stride, float *y, long y_stride);

/// Adds 2·m·n·k, a matrix product's floating-point operations, to the calling thread's count.
void lora_count_product(long m, long n, long k);

/// The floating-point operations of the matrix products this thread has run.
long long lora_counted_product_flops(void);

/// One item of a parallel loop: `body(context, index)`.
typedef void (*lora_pool_body)(void *context, long index);

/// Runs `body(context, i)` for every i in 0..<count, on the calling thread and up to
/// `threads − 1` helper threads, and returns 1 once all have finished. Returns 0 at once,
/// running nothing, when the pool is busy with another loop (another thread's, or one that
/// this loop's own items started) or on systems without the pool: run the loop elsewhere.
int lora_pool_run(long count, int threads, void *context, lora_pool_body body);

/// For tests: while `on` is nonzero, the pool's threads pause at random, for some
/// microseconds, where they race with each other.
void lora_pool_test_pauses(int on);

#endif
