/* Batch normalisation over x laid out [n, c, hw]; per-channel sums accumulate in double
   (in vector lanes: `omp simd reduction` allows the reordering, double keeps it exact enough).
   A ReLU or LeakyReLU that follows can run in the same passes (one tensor less to write and read). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Rows (one image's values of one channel) of at most this many floats are swept in memory
   order, with per-thread partial sums per channel: channel by channel, such rows lie far apart
   (2× slower at 4×4 images, even at 16×16, slower at 32×32 and above). */
#define SHORT_ROWS 256

/* The statistics as sums of d = x − K and d² in double, K being the channel's first value: the
   shifted-data algorithm. The variance Σd²/N − (Σd/N)² does not cancel as the plain Σx² would for
   values far from zero: K is one of the N values, so (K − mean)² ≤ N·variance, and the subtraction
   loses at most log10(N + 1) of double's 16 digits. One sweep reads each value once, with no
   per-row merges (per-row moments merged by Chan's formula cost a division per row of 16 values
   at 4×4 images). */
static inline double channel_shift(const float *x, long hw, int ch) {
  /* A value that is not finite would make every d NaN: its channel's mean is then not finite anyway. */
  const float first = x[(long)ch * hw];
  return isfinite(first) ? first : 0.0;
}

static inline void add_shifted(const float *p, long hw, double shift, double *sum, double *squares) {
  double s = 0, s2 = 0;
#pragma omp simd reduction(+ : s, s2)
  for (long i = 0; i < hw; i++) {
    const double d = p[i] - shift;
    s += d;
    s2 += d * d;
  }
  *sum += s;
  *squares += s2;
}

static inline void finish_shifted(double shift, double sum, double squares, double count, float *mean, float *variance) {
  const double offset = sum / count, v = squares / count - offset * offset;
  *mean = (float)(shift + offset);
  *variance = (float)(v < 0 ? 0 : v); /* rounding can leave −ε; NaN stays NaN */
}

/* Short rows: one sweep in memory order with per-thread sums per channel, merged in thread order
   (the same result for a given thread count). */
static int stats_by_rows(const float *x, int n, int c, long hw, float *mean, float *variance) {
  const int threads = (long)n * c * hw >= PARALLEL_MIN_ELEMENTS ? omp_get_max_threads() : 1;
  double *part = calloc((size_t)threads * 2 * c + (size_t)c, sizeof(double));
  if (part == NULL) return 0;
  double *shifts = part + (size_t)threads * 2 * c;
  for (int ch = 0; ch < c; ch++) shifts[ch] = channel_shift(x, hw, ch);
#pragma omp parallel num_threads(threads)
  {
    double *sum = part + (size_t)omp_get_thread_num() * 2 * c, *squares = sum + c;
#pragma omp for schedule(static) collapse(2)
    for (int img = 0; img < n; img++)
      for (int ch = 0; ch < c; ch++) add_shifted(x + ((long)img * c + ch) * hw, hw, shifts[ch], &sum[ch], &squares[ch]);
  }
  for (int ch = 0; ch < c; ch++) {
    double s = 0, s2 = 0;
    for (int t = 0; t < threads; t++) {
      s += part[(size_t)t * 2 * c + ch];
      s2 += part[(size_t)t * 2 * c + c + ch];
    }
    finish_shifted(shifts[ch], s, s2, (double)n * hw, &mean[ch], &variance[ch]);
  }
  free(part);
  return 1;
}

/* Long rows: each thread takes whole channels. */
void native_batch_norm_stats(const float *x, int n, int c, long hw, float *mean, float *variance) {
  if (hw <= SHORT_ROWS && stats_by_rows(x, n, c, hw, mean, variance)) return;
  const long total = (long)n * c * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) {
    const double shift = channel_shift(x, hw, ch);
    double s = 0, s2 = 0;
    for (int img = 0; img < n; img++) add_shifted(x + ((long)img * c + ch) * hw, hw, shift, &s, &s2);
    finish_shifted(shift, s, s2, (double)n * hw, &mean[ch], &variance[ch]);
  }
}

/* The affine map the apply runs channel ch through, y = x·scale + shift (normalised): one
   definition, so that the backward computes each value before the rectifier exactly again. */
typedef struct {
  float scale, shift;
} affine;

static inline affine channel_affine(int ch, const float *mean, const float *inv_std, const float *gamma, const float *beta) {
  const float scale = (float)((double)inv_std[ch] * (gamma ? gamma[ch] : 1.0f));
  return (affine){scale, (float)((beta ? (double)beta[ch] : 0.0) - (double)mean[ch] * scale)};
}

static inline float normalised(float x, affine a) { return x * a.scale + a.shift; }

void native_batch_norm_apply(const float *x, int n, int c, long hw, const float *mean, const float *inv_std,
                             const float *gamma, const float *beta, float *y, float rectifier_slope) {
  const long total = (long)n * c * hw;
  const int rectify = !isnan(rectifier_slope);
  const float slope = rectify ? rectifier_slope : 0.0f;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (long r = 0; r < (long)n * c; r++) {
    const affine a = channel_affine((int)(r % c), mean, inv_std, gamma, beta);
    const float *p = x + r * hw;
    float *q = y + r * hw;
    if (!rectify) {
#pragma omp simd
      for (long i = 0; i < hw; i++) q[i] = normalised(p[i], a);
    } else if (slope == 0) {
#pragma omp simd
      for (long i = 0; i < hw; i++) {
        const float v = normalised(p[i], a);
        q[i] = RECTIFY(v, 0.0f);
      }
    } else {
#pragma omp simd
      for (long i = 0; i < hw; i++) {
        const float v = normalised(p[i], a);
        q[i] = RECTIFY(v, slope);
      }
    }
  }
}

/* Σ g and Σ g·(x − μ) over one channel's values, g = dy through the rectifier (if any), whose
   derivative is taken at the apply's value, computed again from x (one stream less to read than
   the output). The rectifier's branch is hoisted: one select per lane keeps each loop vectorised. */
#define THROUGH_RECTIFIER (normalised(xp[i], a) > 0 ? d : slope * d)
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

/* The backward for short rows (small images): the same values, with the sums taken in one
   sweep through memory (rows in order, per-thread partial sums per channel) instead of channel
   by channel, whose rows of a few dozen floats lie far apart. */
static int backward_by_rows(const float *x, const float *dy, int n, int c, long hw, const float *mean, const float *inv_std,
                            const float *gamma, int batch_stats, float *dx, float *dgamma, float *dbeta, const float *beta,
                            float slope) {
  const int rectify = !isnan(slope);
  const long total = (long)n * c * hw, rows = (long)n * c;
  const int threads = total >= PARALLEL_MIN_ELEMENTS ? omp_get_max_threads() : 1;
  double *part = calloc((size_t)threads * 2 * c, sizeof(double));
  float *constants = malloc(sizeof(float) * 3 * (size_t)c);
  /* The apply's affine map per channel, made once: rows here are a few dozen floats. */
  affine *affines = malloc(sizeof(affine) * (size_t)c);
  if (part == NULL || constants == NULL || affines == NULL) {
    free(part);
    free(constants);
    free(affines);
    return 0;
  }
  for (int ch = 0; ch < c; ch++) affines[ch] = channel_affine(ch, mean, inv_std, gamma, beta);
#pragma omp parallel num_threads(threads)
  {
    double *sum = part + (size_t)omp_get_thread_num() * 2 * c, *centered = sum + c;
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++) {
      const int ch = (int)(r % c);
      const float mu = mean[ch];
      const affine a = affines[ch];
      const float *restrict xp = x + r * hw;
      const float *restrict gp = dy + r * hw;
      double s = 0, sc = 0;
      if (!rectify) {
        SUM_LOOP(d)
      } else {
        SUM_LOOP(THROUGH_RECTIFIER)
      }
      sum[ch] += s;
      centered[ch] += sc;
    }
  }
  float *scales = constants, *shifts = constants + c, *tilts = constants + 2 * c;
  const double count = (double)n * hw;
  for (int ch = 0; ch < c; ch++) {
    double s = 0, sc = 0;
    for (int t = 0; t < threads; t++) {
      s += part[(size_t)t * 2 * c + ch];
      sc += part[(size_t)t * 2 * c + c + ch];
    }
    const double is = inv_std[ch], sum_dy_xhat = sc * is;
    if (dgamma) dgamma[ch] = (float)sum_dy_xhat;
    if (dbeta) dbeta[ch] = (float)s;
    const double k = is * (gamma ? gamma[ch] : 1.0f);
    scales[ch] = (float)k;
    shifts[ch] = batch_stats ? (float)(k * (s / count)) : 0.0f;
    tilts[ch] = batch_stats ? (float)(k * is * (sum_dy_xhat / count)) : 0.0f;
  }
  if (dx) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long r = 0; r < rows; r++) {
      const int ch = (int)(r % c);
      const float mu = mean[ch], scale = scales[ch], shift = shifts[ch], tilt = tilts[ch];
      const affine a = affines[ch];
      const float *restrict xp = x + r * hw;
      const float *restrict gp = dy + r * hw;
      float *restrict out = dx + r * hw;
      if (!rectify) {
        DX_LOOP(d)
      } else {
        DX_LOOP(THROUGH_RECTIFIER)
      }
    }
  }
  free(part);
  free(constants);
  free(affines);
  return 1;
}

void native_batch_norm_backward(const float *x, const float *dy, int n, int c, long hw, const float *mean,
                                const float *inv_std, const float *gamma, int batch_stats, float *dx,
                                float *dgamma, float *dbeta, const float *beta, float slope) {
  if (hw <= SHORT_ROWS && backward_by_rows(x, dy, n, c, hw, mean, inv_std, gamma, batch_stats, dx, dgamma, dbeta, beta, slope)) return;
  const int rectify = !isnan(slope);
  const long total = (long)n * c * hw;
  const double count = (double)n * hw;
  /* ReLU is the slope-0 case of the same select (a separate `y <= 0 ? 0 : dy` loop ran 1.3× slower);
     it differs from native_unary_backward's ReLU only where the value is NaN (0·dy here, dy there). */
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) {
    const float mu = mean[ch];
    const double is = inv_std[ch];
    const affine a = channel_affine(ch, mean, inv_std, gamma, beta);
    /* x̂ = (x − μ)·σ⁻¹ factors out of Σ g·x̂. */
    double s = 0, sc = 0;
    for (int img = 0; img < n; img++) {
      const long base = ((long)img * c + ch) * hw;
      const float *restrict xp = x + base;
      const float *restrict gp = dy + base;
      if (!rectify) {
        SUM_LOOP(d)
      } else {
        SUM_LOOP(THROUGH_RECTIFIER)
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
      float *restrict out = dx + base;
      if (!rectify) {
        DX_LOOP(d)
      } else {
        DX_LOOP(THROUGH_RECTIFIER)
      }
    }
  }
}
