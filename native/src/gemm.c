/* Row-major strided batched GEMM on OpenBLAS's cblas_sgemm (oneDNN's for thin products, where built with it). */
#include <cblas.h>
#include <omp.h>
#ifdef DCGAN_DNNL
#include <dnnl.h>
#endif

#include "kernels.h"

/* Batches of small products run side by side, one single-threaded sgemm per item (OpenBLAS
   built for OpenMP runs single-threaded inside a parallel region); large ones use its threads. */
#define SMALL_PRODUCT_FLOPS (1L << 22)

/* Thin products with one long side (G's projection, D's last layer and their gradients: one of
   m, n, k at most 128, another at least 1024) go to oneDNN's sgemm where the addon has it: on
   these it is 1.3–2× faster than OpenBLAS's (BENCHMARKS.md), on small and square ones slower. */
static int thin(const gemm_params *p) {
  const int lo = p->m < p->n ? (p->m < p->k ? p->m : p->k) : (p->n < p->k ? p->n : p->k);
  const int hi = p->m > p->n ? (p->m > p->k ? p->m : p->k) : (p->n > p->k ? p->n : p->k);
  return lo >= 1 && lo <= 128 && hi >= 1024;
}

/* k = 1 is an outer product, C = α·a bᵀ + β·C (D's last layer's input gradient: 64 × 4096 values
   from 64 + 4096): the BLAS calls take several times as long as writing C once, in their packing
   and threads' start. Each value rounds as the BLAS's: one product, scaled, then added. a and b are
   contiguous whichever way they are said to be transposed. */
static void outer(const gemm_params *p, const float *a, const float *b, float *c) {
  const long n = p->n;
  const float alpha = p->alpha, beta = p->beta;
#pragma omp parallel for schedule(static) if ((long)p->m * n >= PARALLEL_MIN_ELEMENTS)
  for (int i = 0; i < p->m; i++) {
    const float ai = a[i];
    float *restrict row = c + i * n;
    if (beta == 0) {
#pragma omp simd
      for (long j = 0; j < n; j++) row[j] = alpha * (ai * b[j]);
    } else {
#pragma omp simd
      for (long j = 0; j < n; j++) row[j] = alpha * (ai * b[j]) + beta * row[j];
    }
  }
}

static void one(const gemm_params *p, const float *a, const float *b, float *c) {
  if (p->k == 1) {
    outer(p, a, b, c);
    return;
  }
  const int lda = p->trans_a ? p->m : p->k;
  const int ldb = p->trans_b ? p->k : p->n;
#ifdef DCGAN_DNNL
  /* oneDNN declines (touching nothing) where its argument checks fail: OpenBLAS then does it. */
  if (thin(p) && dnnl_sgemm(p->trans_a ? 'T' : 'N', p->trans_b ? 'T' : 'N', p->m, p->n, p->k, p->alpha, a, lda, b, ldb, p->beta, c, p->n) == dnnl_success) return;
#endif
  cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans, p->trans_b ? CblasTrans : CblasNoTrans,
              p->m, p->n, p->k, p->alpha, a, lda, b, ldb, p->beta, c, p->n);
}

void native_gemm(const gemm_params *p, const float *a, const float *b, float *c) {
  if (p->m == 0 || p->n == 0) return;
  const long flops = 2L * p->m * p->n * p->k;
  /* Items that share C (stride 0) must run in order. */
  const int side_by_side = p->batch > 1 && flops < SMALL_PRODUCT_FLOPS && p->stride_c != 0;
  if (side_by_side) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < p->batch; i++) one(p, a + i * p->stride_a, b + i * p->stride_b, c + i * p->stride_c);
  } else {
    /* Outside any parallel region, so that OpenBLAS uses its threads (an inactive region would confuse it). */
    for (int i = 0; i < p->batch; i++) one(p, a + i * p->stride_a, b + i * p->stride_b, c + i * p->stride_c);
  }
}
