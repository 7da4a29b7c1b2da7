/*
 * Direct convolutions for the layers on the image itself (few channels: D's first layer, G's
 * last), kernel 4, stride 2, padding 1. There the other algorithms have almost nothing to
 * multiply: Winograd's and im2col's GEMMs are 4c or 16c deep. These run the convolution itself,
 * a row of VW outputs per vector, with FMAs, over the image's phases:
 *   X_pq[ch, u, v] = x[ch, 2u + p − 1, 2v + q − 1]   (zero outside the image),
 *   y[o, i, j]     = Σ_ch Σ_pq Σ_ab w[o, ch, 2a + p, 2b + q] · X_pq[ch, i + a, j + b],
 * so each tap reads a unit-stride row of a phase. The weight gradient is the same sum with
 * y's gradient as the weight; the adjoint gathers, for each output pixel of x, the 2 × 2 values of
 * the column side its taps reach (one x row in two per phase of the kernel).
 * Each thread takes its own images; the weight gradient keeps a partial sum per thread and adds
 * them in thread order at the end (one result for a given thread count).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define VW 16
typedef float vec __attribute__((vector_size(64)));
static inline vec fmadd(vec a, vec b, vec c) { return (vec)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline vec splat(float w) { return (vec)_mm512_set1_ps(w); }
/* Output channels per block of the forward, and of the weight gradient: AVX-512 has 32 registers. */
#define FORWARD_BLOCK 8
#define WEIGHTS_BLOCK 2
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VW 8
typedef float vec __attribute__((vector_size(32)));
static inline vec fmadd(vec a, vec b, vec c) { return (vec)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
static inline vec splat(float w) { return (vec)_mm256_set1_ps(w); }
#define FORWARD_BLOCK 4
#define WEIGHTS_BLOCK 1
#else
#define VW 4
typedef float vec __attribute__((vector_size(16)));
static inline vec fmadd(vec a, vec b, vec c) { return a * b + c; }
static inline vec splat(float w) { return (vec){w, w, w, w}; }
#define FORWARD_BLOCK 4
#define WEIGHTS_BLOCK 1
#endif

INLINE vec load(const float *p) {
  vec v;
  memcpy(&v, p, sizeof v);
  return v;
}

INLINE void store(float *p, vec v) { memcpy(p, &v, sizeof v); }

/* At most this many image channels: beyond, the GEMMs of the other algorithms are deep enough. */
#define IMAGE_MAX_CHANNELS 4

int native_image_conv_applies(const conv_geometry *g, int k) {
  return g->kh == 4 && g->kw == 4 && g->stride_h == 2 && g->stride_w == 2 && g->pad_h == 1 && g->pad_w == 1 && g->h == 2 * g->out_h &&
         g->w == 2 * g->out_w && g->out_h % 2 == 0 && g->out_w % VW == 0 && g->c >= 1 && g->c <= IMAGE_MAX_CHANNELS && k % FORWARD_BLOCK == 0 &&
         g->n > 0;
}

/* A phase plane's rows hold v = 0 … out_w (out_w + 1 values; a tap at b = 1 reads up to there). */
static inline long phase_stride(const conv_geometry *g) { return g->out_w + VW; }
static inline long phase_plane(const conv_geometry *g) { return (long)(g->out_h + 1) * phase_stride(g); }

/* One image's phases, X_pq[ch] at planes (ch·2 + p)·2 + q. Only the values inside the image are
   written: the rest (row 0 or out_h, column 0 or out_w, the padding of each row) is the same for
   every image, and stays as zeroed once per call. Row yy of x feeds phase p = (yy + 1) mod 2, row
   u = (yy + 1) / 2; its even columns phase q = 1 at v = xx / 2, its odd ones q = 0 at v = (xx + 1) / 2. */
static void split_phases(const float *x, const conv_geometry *g, float *phases) {
  const long stride = phase_stride(g), plane = phase_plane(g);
  for (int ch = 0; ch < g->c; ch++)
    for (int yy = 0; yy < g->h; yy++) {
      const int p = (yy + 1) % 2, u = (yy + 1) / 2;
      const float *restrict src = x + ((long)ch * g->h + yy) * g->w;
      float *restrict even = phases + ((ch * 2 + p) * 2 + 1) * plane + u * stride;
      float *restrict odd = phases + ((ch * 2 + p) * 2 + 0) * plane + u * stride + 1;
      for (int v = 0; v < g->out_w; v++) {
        even[v] = src[2 * v];
        odd[v] = src[2 * v + 1];
      }
    }
}

/* y[o, i, j]: FORWARD_BLOCK output channels × 2 rows × VW columns in registers, over all 16c taps. */
static void convolve_image(const float *phases, const float *taps, const conv_geometry *g, int k, float *y) {
  const long stride = phase_stride(g), plane = phase_plane(g), out_plane = (long)g->out_h * g->out_w;
  for (int i = 0; i < g->out_h; i += 2)
    for (int j = 0; j < g->out_w; j += VW)
      for (int o0 = 0; o0 < k; o0 += FORWARD_BLOCK) {
        vec top[FORWARD_BLOCK], bottom[FORWARD_BLOCK];
        for (int b = 0; b < FORWARD_BLOCK; b++) top[b] = bottom[b] = splat(0.0f);
        const float *w = taps + o0;
        for (int pl = 0; pl < 4 * g->c; pl++) {
          const float *at = phases + pl * plane + (long)i * stride + j;
          for (int a = 0; a < 2; a++)
            for (int bb = 0; bb < 2; bb++, w += k) {
              const vec x0 = load(at + a * stride + bb), x1 = load(at + (a + 1) * stride + bb);
              for (int b = 0; b < FORWARD_BLOCK; b++) {
                const vec weight = splat(w[b]);
                top[b] = fmadd(x0, weight, top[b]);
                bottom[b] = fmadd(x1, weight, bottom[b]);
              }
            }
        }
        for (int b = 0; b < FORWARD_BLOCK; b++) {
          float *dst = y + (o0 + b) * out_plane + (long)i * g->out_w + j;
          store(dst, top[b]);
          store(dst + g->out_w, bottom[b]);
        }
      }
}

/* Σ over one image of gy[o, i, j] · X_pq[ch, i + a, j + b], added to sums[o][ch][tap] (VW lanes each,
   tap = ((p·2 + q)·2 + a)·2 + b): WEIGHTS_BLOCK channels × the 8 taps of one p in registers. */
static void weights_image(const float *phases, const float *gy, const conv_geometry *g, int k, vec *sums) {
  const long stride = phase_stride(g), plane = phase_plane(g), out_plane = (long)g->out_h * g->out_w;
  for (int o0 = 0; o0 < k; o0 += WEIGHTS_BLOCK)
    for (int ch = 0; ch < g->c; ch++)
      for (int p = 0; p < 2; p++) {
        vec acc[WEIGHTS_BLOCK][8];
        for (int b = 0; b < WEIGHTS_BLOCK; b++)
          for (int t = 0; t < 8; t++) acc[b][t] = splat(0.0f);
        const float *base = phases + (ch * 2 + p) * 2 * plane;
        for (int i = 0; i < g->out_h; i++)
          for (int j = 0; j < g->out_w; j += VW) {
            vec d[WEIGHTS_BLOCK];
            for (int b = 0; b < WEIGHTS_BLOCK; b++) d[b] = load(gy + (o0 + b) * out_plane + (long)i * g->out_w + j);
            for (int t = 0; t < 8; t++) {
              const int q = t >> 2, a = (t >> 1) & 1, bb = t & 1;
              const vec xv = load(base + q * plane + (long)(i + a) * stride + j + bb);
              for (int b = 0; b < WEIGHTS_BLOCK; b++) acc[b][t] = fmadd(d[b], xv, acc[b][t]);
            }
          }
        for (int b = 0; b < WEIGHTS_BLOCK; b++)
          for (int t = 0; t < 8; t++) sums[(((long)(o0 + b) * g->c + ch) * 2 + p) * 8 + t] += acc[b][t];
      }
}

/* The column side of one image with a border of zeros: gp[o][1 + i][1 + j] = gy[o, i, j]. */
static inline long padded_stride(const conv_geometry *g) { return g->out_w + VW; }
static inline long padded_plane(const conv_geometry *g) { return (long)(g->out_h + 2) * padded_stride(g); }

/* Only the inside is written: the border is the same for every image, zeroed once per call. With a
   rectifier (slope not NaN), gy is the gradient at its output `activated` and goes back through it. */
static void pad_columns(const float *gy, const conv_geometry *g, int k, float slope, const float *activated, float *gp) {
  const long stride = padded_stride(g), plane = padded_plane(g);
  for (int o = 0; o < k; o++)
    for (int i = 0; i < g->out_h; i++) {
      const long row = ((long)o * g->out_h + i) * g->out_w;
      const float *restrict src = gy + row;
      float *restrict dst = gp + o * plane + (i + 1) * stride + 1;
      if (isnan(slope)) {
        for (int j = 0; j < g->out_w; j += VW) store(dst + j, load(src + j));
      } else {
        const float *restrict y = activated + row;
        for (int j = 0; j < g->out_w; j++) dst[j] = RECTIFIED_GRADIENT(y[j], src[j], slope);
      }
    }
}

/* One image's column side through the rectifier, for the weight gradient. */
static void rectified_gradient(const float *restrict gy, const float *restrict activated, long count, float slope, float *restrict out) {
  for (long i = 0; i < count; i++) out[i] = RECTIFIED_GRADIENT(activated[i], gy[i], slope);
}

static void rectify(float *y, long count, float slope) {
  for (long i = 0; i < count; i++) y[i] = RECTIFY(y[i], slope);
}

/* Lanes 0 … VW/2 − 1 of `even` and `odd` alternating, then the upper halves: a row of x from its
   even and odd columns. */
#if VW == 16
static const int interleave_low[VW] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int interleave_high[VW] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
typedef int vec_index __attribute__((vector_size(64)));
#elif VW == 8
static const int interleave_low[VW] = {0, 8, 1, 9, 2, 10, 3, 11};
static const int interleave_high[VW] = {4, 12, 5, 13, 6, 14, 7, 15};
typedef int vec_index __attribute__((vector_size(32)));
#else
static const int interleave_low[VW] = {0, 4, 1, 5};
static const int interleave_high[VW] = {2, 6, 3, 7};
typedef int vec_index __attribute__((vector_size(16)));
#endif

INLINE void store_interleaved(float *dst, vec even, vec odd) {
  vec_index low, high;
  memcpy(&low, interleave_low, sizeof low);
  memcpy(&high, interleave_high, sizeof high);
  store(dst, __builtin_shuffle(even, odd, low));
  store(dst + VW, __builtin_shuffle(even, odd, high));
}

/* x[ch, 2r + ey, 2s + ex] = Σ_o Σ_{a,b} w[o, ch, 2a + 1 − ey, 2b + 1 − ex] · gy[o, r + ey − a, s + ex − b]:
   two row pairs (r, r + 1) × the four parities × VW columns in registers, over all output channels. */
static void adjoint_image(const float *gp, const float *w, const conv_geometry *g, int k, float *x) {
  const long stride = padded_stride(g), plane = padded_plane(g);
  for (int ch = 0; ch < g->c; ch++)
    for (int r = 0; r < g->out_h; r += 2)
      for (int s = 0; s < g->out_w; s += VW) {
        /* acc[row pair][ey][ex] */
        vec acc[2][2][2];
        for (int i = 0; i < 8; i++) acc[i >> 2][(i >> 1) & 1][i & 1] = splat(0.0f);
        for (int o = 0; o < k; o++) {
          const float *wk = w + ((long)o * g->c + ch) * 16;
          /* Rows r − 1 … r + 2 of gy (dr = 0 … 3), columns s − 1, s, s + 1 (padded: + 1 each): each
             row's three vectors serve every (pair, ey, a) with pair + 1 + ey − a = dr before the next
             row is read; the 16 weights are broadcast once, for both pairs. */
          const float *at = gp + o * plane + (long)r * stride + s;
          vec weight[16];
          for (int i = 0; i < 16; i++) weight[i] = splat(wk[i]);
          for (int dr = 0; dr < 4; dr++) {
            vec row[3];
            for (int dc = 0; dc < 3; dc++) row[dc] = load(at + dr * stride + dc);
            for (int pair = 0; pair < 2; pair++)
              for (int ey = 0; ey < 2; ey++) {
                const int a = pair + 1 + ey - dr;
                if (a < 0 || a > 1) continue;
                for (int ex = 0; ex < 2; ex++)
                  for (int b = 0; b < 2; b++)
                    acc[pair][ey][ex] = fmadd(row[1 + ex - b], weight[(2 * a + 1 - ey) * 4 + 2 * b + 1 - ex], acc[pair][ey][ex]);
              }
          }
        }
        for (int pair = 0; pair < 2; pair++)
          for (int ey = 0; ey < 2; ey++)
            store_interleaved(x + ((long)ch * g->h + 2 * (r + pair) + ey) * g->w + 2 * s, acc[pair][ey][0], acc[pair][ey][1]);
      }
}

int native_image_conv(int pass, const conv_geometry *g, int k, const float *input, const float *second, float *output, float slope,
                      const float *activated) {
  if (!native_image_conv_applies(g, k) || (pass != DIRECT_CONVOLVE && pass != DIRECT_ADJOINT && pass != DIRECT_WEIGHTS)) return 0;
  const int c = g->c, threads = omp_get_max_threads(), rectifier = !isnan(slope);
  if (rectifier && pass != DIRECT_CONVOLVE && activated == NULL) return 0;
  const long image = (long)c * g->h * g->w, columns = (long)k * g->out_h * g->out_w;
  /* Per thread: the image's phases (or the padded column side), and for the weight gradient through
     a rectifier one image's column side, rounded to whole cache lines; the forward's weights by tap,
     then output channel; the weight gradient's sums per thread. */
  const long gradient_floats = pass == DIRECT_WEIGHTS && rectifier ? whole_lines(columns) : 0;
  const long scratch_floats = whole_lines(pass == DIRECT_ADJOINT ? k * padded_plane(g) : 4L * c * phase_plane(g)) + gradient_floats;
  const long tap_floats = pass == DIRECT_CONVOLVE ? whole_lines(16L * c * k) : 0, sum_vectors = 16L * c * k;
  const long sums_floats = pass == DIRECT_WEIGHTS ? sum_vectors * threads * VW : 0;
  float *scratch = native_scratch(sizeof(float) * (size_t)(sums_floats + tap_floats + scratch_floats * threads));
  if (scratch == NULL) return 0;
  vec *sums = (vec *)scratch;
  float *taps = scratch + sums_floats, *planes = taps + tap_floats;
  if (pass == DIRECT_CONVOLVE)
    for (int o = 0; o < k; o++)
      for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < 2; p++)
          for (int q = 0; q < 2; q++)
            for (int a = 0; a < 2; a++)
              for (int b = 0; b < 2; b++) taps[((((ch * 2 + p) * 2 + q) * 2 + a) * 2 + b) * (long)k + o] = second[((long)o * c + ch) * 16 + (2 * a + p) * 4 + 2 * b + q];
  int team = 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    float *mine = planes + scratch_floats * t;
    memset(mine, 0, sizeof(float) * scratch_floats);
    vec *my_sums = pass == DIRECT_WEIGHTS ? sums + sum_vectors * t : NULL;
    if (my_sums != NULL)
      for (long i = 0; i < sum_vectors; i++) my_sums[i] = splat(0.0f);
    const int first = (int)((long)g->n * t / team), last = (int)((long)g->n * (t + 1) / team);
    float *gradient = mine + scratch_floats - gradient_floats;
    for (int img = first; img < last; img++) {
      if (pass == DIRECT_CONVOLVE) {
        split_phases(input + img * image, g, mine);
        convolve_image(mine, taps, g, k, output + img * columns);
        /* While the image's outputs are still in cache. */
        if (rectifier) rectify(output + img * columns, columns, slope);
      } else if (pass == DIRECT_WEIGHTS) {
        split_phases(input + img * image, g, mine);
        const float *gy = second + img * columns;
        if (rectifier) {
          rectified_gradient(gy, activated + img * columns, columns, slope, gradient);
          gy = gradient;
        }
        weights_image(mine, gy, g, k, my_sums);
      } else {
        pad_columns(input + img * columns, g, k, slope, rectifier ? activated + img * columns : NULL, mine);
        adjoint_image(mine, second, g, k, output + img * image);
      }
    }
  }
  if (pass == DIRECT_WEIGHTS) {
    /* sums[o][ch][p][q·4 + a·2 + b] → w̄[o, ch, 2a + p, 2b + q]: threads in order, then lanes in order. */
    for (long i = 0; i < sum_vectors; i++) {
      vec total = sums[i];
      for (int t = 1; t < team; t++) total += sums[sum_vectors * t + i];
      float sum = 0.0f;
      for (int lane = 0; lane < VW; lane++) sum += total[lane];
      const long oc = i / 16;
      const int p = (int)(i / 8 % 2), q = (int)(i / 4 % 2), a = (int)(i / 2 % 2), b = (int)(i % 2);
      output[oc * 16 + (2 * a + p) * 4 + 2 * b + q] = sum;
    }
  }
  return 1;
}
