/* Batch normalisation over x laid out [n, c, hw]; per-channel sums accumulate in double
   (in vector lanes: `omp simd reduction` allows the reordering, double keeps it exact enough). */
#include "kernels.h"

void native_batch_norm_stats(const float *x, int n, int c, long hw, float *mean, float *variance) {
  const long total = (long)n * c * hw;
  const double count = (double)n * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) {
    const double mu = channel_total(x, n, c, hw, ch) / count;
    /* Two passes: the variance of values far from zero stays exact. */
    double sq = 0;
    for (int img = 0; img < n; img++) {
      const float *p = x + ((long)img * c + ch) * hw;
#pragma omp simd reduction(+ : sq)
      for (long i = 0; i < hw; i++) {
        const double d = p[i] - mu;
        sq += d * d;
      }
    }
    mean[ch] = (float)mu;
    variance[ch] = (float)(sq / count);
  }
}

void native_batch_norm_apply(const float *x, int n, int c, long hw, const float *mean, const float *inv_std,
                             const float *gamma, const float *beta, float *y) {
  const long total = (long)n * c * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (long r = 0; r < (long)n * c; r++) {
    const int ch = (int)(r % c);
    const float scale = (float)((double)inv_std[ch] * (gamma ? gamma[ch] : 1.0f));
    const float shift = (float)((beta ? (double)beta[ch] : 0.0) - (double)mean[ch] * scale);
    const float *p = x + r * hw;
    float *q = y + r * hw;
    for (long i = 0; i < hw; i++) q[i] = p[i] * scale + shift;
  }
}

void native_batch_norm_backward(const float *x, const float *dy, int n, int c, long hw, const float *mean,
                                const float *inv_std, const float *gamma, int batch_stats, float *dx,
                                float *dgamma, float *dbeta) {
  const long total = (long)n * c * hw;
  const double count = (double)n * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) {
    const float mu = mean[ch];
    const float is = inv_std[ch];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
      for (long i = 0; i < hw; i++) {
        const double g = dy[base + i];
        sum_dy += g;
        sum_dy_xhat += g * ((double)x[base + i] - mu) * is;
      }
    }
    if (dgamma) dgamma[ch] = (float)sum_dy_xhat;
    if (dbeta) dbeta[ch] = (float)sum_dy;
    if (!dx) continue;
    const double k = (double)is * (gamma ? gamma[ch] : 1.0f);
    /* Training: the batch mean and variance depend on x, which adds the two correction terms. */
    const double mean_dy = batch_stats ? sum_dy / count : 0;
    const double mean_dy_xhat = batch_stats ? sum_dy_xhat / count : 0;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
      for (long i = 0; i < hw; i++) {
        const double xhat = ((double)x[base + i] - mu) * is;
        dx[base + i] = (float)(k * (dy[base + i] - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
}
