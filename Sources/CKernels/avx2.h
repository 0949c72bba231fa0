// What the AVX2 and FMA sources share (kernels.c, block_product.c): the target attribute
// of their functions and the mask of a last, partial group of eight lanes. x86-64 only.

#ifndef LORA_AVX2_H
#define LORA_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#define AVX2_FMA __attribute__((target("avx2,fma")))

/// Lanes `0..<count` set (all ones), the rest clear: for the last, partial group of eight.
static inline AVX2_FMA __m256i tail_mask(size_t count) {
  return _mm256_cmpgt_epi32(
    _mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
