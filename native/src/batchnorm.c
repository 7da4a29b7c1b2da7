/* Batch normalisation over x laid out [n, c, hw]; per-channel sums accumulate in double
   (in vector lanes: `omp simd reduction` allows the reordering, double keeps it exact enough).
   A ReLU or LeakyReLU that follows can run in the same passes (one tensor less to write and read). */
#include <math.h>

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

/* As native_unary's U_RELU (slope 0: x <= 0 ? 0 : x, so -0 and NaN as there) and U_LEAKY_RELU. */
#define RECTIFY(v, slope) ((slope) == 0 ? ((v) <= 0 ? 0 : (v)) : ((v) > 0 ? (v) : (slope) * (v)))

void native_batch_norm_apply(const float *x, int n, int c, long hw, const float *mean, const float *inv_std,
                             const float *gamma, const float *beta, float *y, float rectifier_slope) {
  const long total = (long)n * c * hw;
  const int rectify = !isnan(rectifier_slope);
  const float slope = rectify ? rectifier_slope : 0.0f;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (long r = 0; r < (long)n * c; r++) {
    const int ch = (int)(r % c);
    const float scale = (float)((double)inv_std[ch] * (gamma ? gamma[ch] : 1.0f));
    const float shift = (float)((beta ? (double)beta[ch] : 0.0) - (double)mean[ch] * scale);
    const float *p = x + r * hw;
    float *q = y + r * hw;
    if (!rectify) {
#pragma omp simd
      for (long i = 0; i < hw; i++) q[i] = p[i] * scale + shift;
    } else if (slope == 0) {
#pragma omp simd
      for (long i = 0; i < hw; i++) {
        const float v = p[i] * scale + shift;
        q[i] = RECTIFY(v, 0.0f);
      }
    } else {
#pragma omp simd
      for (long i = 0; i < hw; i++) {
        const float v = p[i] * scale + shift;
        q[i] = RECTIFY(v, slope);
      }
    }
  }
}

/* Σ g and Σ g·(x − μ) over one channel's values, g = dy through the rectifier (if any). The
   rectifier's branch is hoisted: one select per lane keeps each loop vectorised. */
#define SUM_LOOP(G)                                      \
  _Pragma("omp simd reduction(+ : s, sc)") for (long i = 0; i < hw; i++) { \
    const float d = gp[i], g = (G);                      \
    s += g;                                              \
    sc += (double)g * ((double)xp[i] - mu);              \
  }
#define DX_LOOP(G)                                                          \
  _Pragma("omp simd") for (long i = 0; i < hw; i++) {                       \
    const float d = gp[i], g = (G);                                         \
    out[i] = (scale * g - shift) - (xp[i] - mu) * tilt;                     \
  }

void native_batch_norm_backward(const float *x, const float *dy, int n, int c, long hw, const float *mean,
                                const float *inv_std, const float *gamma, int batch_stats, float *dx,
                                float *dgamma, float *dbeta, const float *rectified, float slope) {
  const long total = (long)n * c * hw;
  const double count = (double)n * hw;
  /* ReLU is the slope-0 case of the same select (a separate `y <= 0 ? 0 : dy` loop ran 1.3× slower);
     it differs from native_unary_backward's ReLU only where y is NaN (0·dy here, dy there). */
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) {
    const float mu = mean[ch];
    const double is = inv_std[ch];
    /* x̂ = (x − μ)·σ⁻¹ factors out of Σ g·x̂. */
    double s = 0, sc = 0;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
      const float *restrict xp = x + base;
      const float *restrict gp = dy + base;
      const float *restrict yp = rectified ? rectified + base : gp;
      if (rectified == NULL) {
        SUM_LOOP(d)
      } else {
        SUM_LOOP(yp[i] > 0 ? d : slope * d)
      }
    }
    const double sum_dy = s, sum_dy_xhat = sc * is;
    if (dgamma) dgamma[ch] = (float)sum_dy_xhat;
    if (dbeta) dbeta[ch] = (float)sum_dy;
    if (!dx) continue;
    const double k = is * (gamma ? gamma[ch] : 1.0f);
    /* Training: the batch mean and variance depend on x, which adds the two correction terms.
       dx = k·(g − mean(g)) − (x − μ)·k·σ⁻¹·mean(g·x̂), in float lanes (x − μ kept apart: no cancellation). */
    const float scale = (float)k;
    const float shift = batch_stats ? (float)(k * (sum_dy / count)) : 0.0f;
    const float tilt = batch_stats ? (float)(k * is * (sum_dy_xhat / count)) : 0.0f;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
      const float *restrict xp = x + base;
      const float *restrict gp = dy + base;
      const float *restrict yp = rectified ? rectified + base : gp;
      float *restrict out = dx + base;
      if (rectified == NULL) {
        DX_LOOP(d)
      } else {
        DX_LOOP(yp[i] > 0 ? d : slope * d)
      }
    }
  }
}
