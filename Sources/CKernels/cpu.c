// What the CPU offers (CPUID, and XGETBV for what the operating system saves), and the
// instruction set level the library's own kernels use: the CPU's, or lower where
// `LORA_ISA` or `lora_limit_isa` says so, to run another CPU's code paths on this one.

#include "CKernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

#include <cpuid.h>

static unsigned long long read_xcr0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

void lora_read_cpu(struct lora_cpu *cpu) {
  memset(cpu, 0, sizeof *cpu);
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
  unsigned int highest = eax;
  memcpy(cpu->vendor, &ebx, 4);
  memcpy(cpu->vendor + 4, &edx, 4);
  memcpy(cpu->vendor + 8, &ecx, 4);
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  unsigned int family = (eax >> 8) & 0xF, model = (eax >> 4) & 0xF;
  // The extended fields count only where the base family says so (Intel's and AMD's rule).
  if (family == 0xF) family += (eax >> 20) & 0xFF;
  if (family == 0x6 || family >= 0xF) model += ((eax >> 16) & 0xF) << 4;
  cpu->family = (int)family;
  cpu->model = (int)model;
  cpu->sse3 = (ecx >> 0) & 1;
  int osxsave = (ecx >> 27) & 1;
  unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
  // The operating system must save the YMM state for AVX, and the opmask and ZMM state too
  // for AVX-512: a CPU that has them is no use to a program whose registers are not kept.
  int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xE0) == 0xE0;
  cpu->avx = ymm && ((ecx >> 28) & 1);
  cpu->fma = cpu->avx && ((ecx >> 12) & 1);
  if (highest >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    cpu->avx2 = cpu->avx && ((ebx >> 5) & 1);
    cpu->avx512f = zmm && ((ebx >> 16) & 1);
    cpu->avx512dq = cpu->avx512f && ((ebx >> 17) & 1);
    cpu->avx512cd = cpu->avx512f && ((ebx >> 28) & 1);
    cpu->avx512bw = cpu->avx512f && ((ebx >> 30) & 1);
    cpu->avx512vl = cpu->avx512f && ((ebx >> 31) & 1);
    cpu->avx512fp16 = cpu->avx512f && ((edx >> 23) & 1);
    cpu->amx = (edx >> 24) & 1;
    unsigned int subleaves = eax;
    if (subleaves >= 1) {
      __cpuid_count(7, 1, eax, ebx, ecx, edx);
      cpu->avx512bf16 = cpu->avx512f && ((eax >> 5) & 1);
    }
  }
}

static int cpu_isa(void) {
  struct lora_cpu cpu;
  lora_read_cpu(&cpu);
  if (cpu.avx512f && cpu.avx2 && cpu.fma) return LORA_ISA_AVX512;
  if (cpu.avx2 && cpu.fma) return LORA_ISA_AVX2;
  return LORA_ISA_BASELINE;
}

#else

void lora_read_cpu(struct lora_cpu *cpu) { memset(cpu, 0, sizeof *cpu); }
static int cpu_isa(void) { return LORA_ISA_BASELINE; }

#endif

// -1 until first asked; then the level in use. Every thread that races to the first read
// computes the same value, so a relaxed store is enough.
static _Atomic int level = -1;
static _Atomic int limit_set_by_call = 0;

/// `LORA_ISA`'s level, or LORA_ISA_AVX512 (no limit) when it is unset. A value that is none
/// of the three names stops the program: a benchmark meant for another CPU must not run on
/// this one's kernels by a typo.
static int environment_limit(void) {
  const char *text = getenv("LORA_ISA");
  if (text == NULL || *text == 0) return LORA_ISA_AVX512;
  if (strcmp(text, "avx512") == 0) return LORA_ISA_AVX512;
  if (strcmp(text, "avx2") == 0) return LORA_ISA_AVX2;
  if (strcmp(text, "baseline") == 0) return LORA_ISA_BASELINE;
  fprintf(stderr, "LORA_ISA=%s: expected avx512, avx2 or baseline\n", text);
  exit(2);
}

int lora_cpu_isa(void) { return cpu_isa(); }

int lora_isa(void) {
  int current = atomic_load_explicit(&level, memory_order_relaxed);
  if (current >= 0) return current;
  int cpu = cpu_isa(), limit = environment_limit();
  current = cpu < limit ? cpu : limit;
  if (!atomic_load_explicit(&limit_set_by_call, memory_order_relaxed)) {
    atomic_store_explicit(&level, current, memory_order_relaxed);
  }
  return atomic_load_explicit(&level, memory_order_relaxed);
}

void lora_limit_isa(int limit) {
  atomic_store_explicit(&limit_set_by_call, 1, memory_order_relaxed);
  int cpu = cpu_isa();
  if (limit < 0) limit = environment_limit();
  atomic_store_explicit(&level, cpu < limit ? cpu : limit, memory_order_relaxed);
}

int lora_has_avx2_fma(void) { return lora_isa() >= LORA_ISA_AVX2; }

int lora_has_avx512(void) { return lora_isa() >= LORA_ISA_AVX512; }
