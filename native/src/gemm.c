/* Row-major strided batched GEMM on OpenBLAS's cblas_sgemm. */
#include <cblas.h>
#include <omp.h>

#include "kernels.h"

/* Batches of small products run side by side, one single-threaded sgemm per item (OpenBLAS
   built for OpenMP runs single-threaded inside a parallel region); large ones use its threads. */
#define SMALL_PRODUCT_FLOPS (1L << 22)

static void one(const gemm_params *p, const float *a, const float *b, float *c) {
  const int lda = p->trans_a ? p->m : p->k;
  const int ldb = p->trans_b ? p->k : p->n;
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
