// The GPT steps' matrix products through cblas_sgemm, for comparing BLAS libraries on one
// machine: Scripts/compare-blas builds this against OpenBLAS and against BLIS and runs both.
// Row-major, as the library calls them; the best of 7 timings of each shape (a batch of
// per-head products counts as one).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void run(const char *name, int m, int n, int k, int ta, int tb, float beta, int batch) {
  float *a = malloc(sizeof(float) * (size_t)m * k * batch), *b = malloc(sizeof(float) * (size_t)k * n * batch), *c = malloc(sizeof(float) * (size_t)m * n * batch);
  for (size_t i = 0; i < (size_t)m * k * batch; i++) a[i] = (float)rand() / RAND_MAX;
  for (size_t i = 0; i < (size_t)k * n * batch; i++) b[i] = (float)rand() / RAND_MAX;
  for (size_t i = 0; i < (size_t)m * n * batch; i++) c[i] = 0;
  double best = 1e9;
  for (int rep = 0; rep < 7; rep++) {
    double t0 = now();
    for (int i = 0; i < batch; i++)
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a + (size_t)i*m*k, ta ? m : k, b + (size_t)i*k*n, tb ? k : n, beta, c + (size_t)i*m*n, n);
    double t = now() - t0; if (t < best) best = t;
  }
  printf("%-28s %8.2f ms  %6.1f GFLOP/s\n", name, best * 1e3, 2.0 * m * n * k * batch / best / 1e9);
  free(a); free(b); free(c);
}
int main(void) {
  run("N=1024", 1024, 1024, 1024, 0, 0, 0, 1);
  run("L qkv fwd 4096x1152x384", 4096, 1152, 384, 0, 1, 0, 1);
  run("L mlp fwd 4096x1536x384", 4096, 1536, 384, 0, 1, 0, 1);
  run("L mlp2 fwd 4096x384x1536", 4096, 384, 1536, 0, 1, 0, 1);
  run("L dX 4096x384x1536", 4096, 384, 1536, 0, 0, 0, 1);
  run("L dW 1536x384x4096 (AtB)", 1536, 384, 4096, 1, 0, 0, 1);
  run("L att 96x[256x256x64]", 256, 256, 64, 0, 1, 0, 96);
  run("L att·V 96x[256x64x256]", 256, 64, 256, 0, 0, 0, 96);
  run("M mlp 2048x512x128", 2048, 512, 128, 0, 1, 0, 1);
  run("M att 64x[128x128x32]", 128, 128, 32, 0, 1, 0, 64);
  run("head 4096x65x384", 4096, 65, 384, 0, 1, 0, 1);
}
