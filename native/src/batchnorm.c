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
    const double is = inv_std[ch];
    /* Σ dy and Σ dy·(x − μ) in double lanes; x̂ = (x − μ)·σ⁻¹ factors out of the second sum. */
    double sum_dy = 0, sum_dy_centered = 0;
    for (int img = 0; img < n; img++) {
      const float *xp = x + ((long)img * c + ch) * hw;
      const float *gp = dy + ((long)img * c + ch) * hw;
#pragma omp simd reduction(+ : sum_dy, sum_dy_centered)
      for (long i = 0; i < hw; i++) {
        const double g = gp[i];
        sum_dy += g;
        sum_dy_centered += g * ((double)xp[i] - mu);
      }
    }
    const double sum_dy_xhat = sum_dy_centered * is;
    if (dgamma) dgamma[ch] = (float)sum_dy_xhat;
    if (dbeta) dbeta[ch] = (float)sum_dy;
    if (!dx) continue;
    const double k = is * (gamma ? gamma[ch] : 1.0f);
    /* Training: the batch mean and variance depend on x, which adds the two correction terms.
       dx = k·(dy − mean(dy)) − (x − μ)·k·σ⁻¹·mean(dy·x̂), in float lanes (x − μ kept apart: no cancellation). */
    const float scale = (float)k;
    const float shift = batch_stats ? (float)(k * (sum_dy / count)) : 0.0f;
    const float slope = batch_stats ? (float)(k * is * (sum_dy_xhat / count)) : 0.0f;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
      const float *restrict xp = x + base;
      const float *restrict gp = dy + base;
      float *restrict out = dx + base;
#pragma omp simd
      for (long i = 0; i < hw; i++) out[i] = (scale * gp[i] - shift) - (xp[i] - mu) * slope;
    }
  }
}
