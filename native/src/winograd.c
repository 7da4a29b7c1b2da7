/*
 * Winograd F(2×2, 2×2) over the image's phases, for the DCGAN's strided layers (kernel 4,
 * stride 2, padding 1): the three passes of direct_conv.c in 9/16 of their multiplications.
 *
 * Why it applies. Split the padded image into its four phases, X_pq[c, u, v] = x[c, 2u + p − 1,
 * 2v + q − 1], and the kernel likewise, g[k, (c, p, q), α, β] = w[k, c, 2α + p, 2β + q]: the
 * layer is a stride-1 2×2 convolution over 4·c phase channels. A 2×2 convolution has Winograd's
 * minimal algorithm F(2, 2), three products for two outputs, with transforms of coefficients
 * 0 and ±1 only (Bᵀ = [1 −1 0; 0 1 0; 0 −1 1], G = [1 0; 1 1; 0 1], Aᵀ = [1 1 0; 0 1 1]), so it
 * rounds like a reordered sum. In 2D, a 2×2 output tile takes 9 products per phase channel
 * where the direct convolution takes 16; the products are 9 GEMMs, one per point of the 3×3
 * transformed tile, over all tiles of a chunk of images:
 *   convolve  M_ξν [k × T] = U_ξν [k × 4c] · V_ξν [4c × T],  y = Aᵀ M A per tile;
 *   adjoint   W_ξν [4c × T] = U_ξνᵀ · Z_ξν [k × T] (Z = A ȳ Aᵀ), x̄ += B W Bᵀ per tile (tiles overlap by a row);
 *   weights   P_ξν [k × 4c] = Σ_chunks Z_ξν · V_ξνᵀ,  w̄ = Gᵀ P G.
 * U = G g Gᵀ is made once per call. Each thread takes its own images through transform, products
 * and untransform a chunk at a time, so the tiles it writes are still in its cache when it
 * multiplies them; where that does not pay, the chunks are shared and kept within a budget.
 *
 * F(4×4, 2×2) (DIRECT_WINOGRAD4, further below) is the same over 4×4 output tiles: 25 products
 * where F(2×2, 2×2) takes 36 for the same outputs, with larger transforms and more rounding. The
 * chunks, products and threads are shared by both forms (winograd_form).
 */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#ifdef DCGAN_DNNL
#include <dnnl.h>
#endif

#include "kernels.h"

/* The transformed tiles of one chunk (V or Z, and M or W) stay within this many bytes. */
#define WINOGRAD_BUDGET (16L << 20)

/* The 9 planes of transformed tiles are this many floats apart beyond their size: at a multiple of
   4 KiB, the transforms' 9 streams of stores fall in the same cache sets. */
#define PLANE_PAD 16L

static inline long tile_plane(long rows, long tiles) { return rows * tiles + PLANE_PAD; }


/* The kernel transforms hold a tap's four phases (p, q) in one vector, lane 2p + q: U's 4c phase
   channels are channel-major, so each point ξ of a channel is one 4-float store. */
typedef float quad __attribute__((vector_size(16)));
typedef int quad_index __attribute__((vector_size(16)));

/* A kernel's 16 taps as its four phases: g[a][b] holds tap (2a + p, 2b + q) in lane 2p + q. */
INLINE void taps_to_phases(const float *src, quad g[2][2]) {
  const quad_index left = {0, 1, 4, 5}, right = {2, 3, 6, 7};
  quad row0, row1, row2, row3;
  memcpy(&row0, src, sizeof row0);
  memcpy(&row1, src + 4, sizeof row1);
  memcpy(&row2, src + 8, sizeof row2);
  memcpy(&row3, src + 12, sizeof row3);
  g[0][0] = __builtin_shuffle(row0, row1, left);
  g[0][1] = __builtin_shuffle(row0, row1, right);
  g[1][0] = __builtin_shuffle(row2, row3, left);
  g[1][1] = __builtin_shuffle(row2, row3, right);
}

/* The inverse: the four phases back into the kernel's 16 taps. */
INLINE void phases_to_taps(const quad d[2][2], float *dst) {
  const quad_index left = {0, 1, 4, 5}, right = {2, 3, 6, 7};
  const quad row0 = __builtin_shuffle(d[0][0], d[0][1], left), row1 = __builtin_shuffle(d[0][0], d[0][1], right);
  const quad row2 = __builtin_shuffle(d[1][0], d[1][1], left), row3 = __builtin_shuffle(d[1][0], d[1][1], right);
  memcpy(dst, &row0, sizeof row0);
  memcpy(dst + 4, &row1, sizeof row1);
  memcpy(dst + 8, &row2, sizeof row2);
  memcpy(dst + 12, &row3, sizeof row3);
}

/* A point's quad of P, its `copies` partial sums (`copy` floats apart) added in order. */
INLINE quad summed_copies(const float *at, long copy, int copies) {
  quad m;
  memcpy(&m, at, sizeof m);
  for (int t = 1; t < copies; t++) {
    quad more;
    memcpy(&more, at + t * copy, sizeof more);
    m += more;
  }
  return m;
}

/* U_ξν [k × 4c] = G g Gᵀ for every output channel and phase channel. */
static void transform_kernels(const float *w, int k, int c, float *u) {
  const long plane = (long)k * 4 * c;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    for (int ch = 0; ch < c; ch++) {
      quad g[2][2];
      taps_to_phases(w + ((long)o * c + ch) * 16, g);
      /* Rows: (g0, g0 + g1, g1); then columns the same. */
      const quad r[3][2] = {{g[0][0], g[0][1]}, {g[0][0] + g[1][0], g[0][1] + g[1][1]}, {g[1][0], g[1][1]}};
      float *at = u + (long)o * 4 * c + ch * 4;
      for (int i = 0; i < 3; i++) {
        const quad sum = r[i][0] + r[i][1];
        memcpy(at + (i * 3 + 0) * plane, &r[i][0], sizeof sum);
        memcpy(at + (i * 3 + 1) * plane, &sum, sizeof sum);
        memcpy(at + (i * 3 + 2) * plane, &r[i][1], sizeof sum);
      }
    }
  }
}

/* w̄ = Gᵀ P G for `count` phase channels from `ch` of output channel o, P being the sum of
   `copies` partial Ps `copy` floats apart: at count = 4 each plane is read in whole 64-byte lines. */
static inline void untransform_kernel_channels(const float *pm, int copies, long copy, int o, int ch, int count, int c, long plane, float *w) {
  const float *at = pm + (long)o * 4 * c + ch * 4;
  quad m[9][4];
  for (int i = 0; i < 9; i++) {
    memcpy(m[i], at + i * plane, count * sizeof m[i][0]);
    for (int t = 1; t < copies; t++) {
      quad more[4];
      memcpy(more, at + i * plane + t * copy, count * sizeof more[0]);
      for (int q = 0; q < count; q++) m[i][q] += more[q];
    }
  }
  for (int q = 0; q < count; q++) {
    /* Gᵀ = [1 1 0; 0 1 1] on both sides. */
    quad r[2][3];
    for (int j = 0; j < 3; j++) {
      r[0][j] = m[j][q] + m[3 + j][q];
      r[1][j] = m[3 + j][q] + m[6 + j][q];
    }
    const quad d[2][2] = {{r[0][0] + r[0][1], r[0][1] + r[0][2]}, {r[1][0] + r[1][1], r[1][1] + r[1][2]}};
    phases_to_taps(d, w + ((long)o * c + ch + q) * 16);
  }
}

/* The weight gradient from P_ξν [k × 4c], the sum of `copies` partial Ps one after another
   (one per thread; added here, in thread order, rather than in a pass of their own): w̄ = Gᵀ P G. */
static void untransform_kernels(const float *pm, int copies, int k, int c, float *w) {
  const long plane = (long)k * 4 * c, copy = 9 * plane;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) untransform_kernel_channels(pm, copies, copy, o, ch, 4, c, plane, w);
    for (; ch < c; ch++) untransform_kernel_channels(pm, copies, copy, o, ch, 1, c, plane, w);
  }
}

/* A plane with its padding, held by column class: rows 0 … h + 1 of the padded plane, each as
   four runs of tw + 1 values, run b holding padded columns b, 4 + b, 8 + b, … A tile's columns
   4tj + q, 4tj + 2 + q and 4tj + 4 + q are then element tj of runs q, q + 2 and q, tj + 1: the
   transforms read and write whole runs with unit stride, which vectorises. */
static inline long class_floats(const conv_geometry *g) { return whole_lines((long)(g->h + 2) * 4 * (g->out_w / 2 + 1)); }


/* Run b of n values gets src[4j + b]. Blocks of 16 are a 4 × 4 transpose in registers: the
   stride-4 loop the compiler makes of it otherwise took half of a transform's time. */
INLINE void unzip4(const float *restrict src, int n, float *restrict r0, float *restrict r1, float *restrict r2, float *restrict r3) {
  const quad_index lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7}, first = {0, 1, 4, 5}, second = {2, 3, 6, 7};
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    quad a, b, c, d;
    memcpy(&a, src + 4 * j, sizeof a);
    memcpy(&b, src + 4 * j + 4, sizeof b);
    memcpy(&c, src + 4 * j + 8, sizeof c);
    memcpy(&d, src + 4 * j + 12, sizeof d);
    const quad ab0 = __builtin_shuffle(a, b, lo), ab1 = __builtin_shuffle(a, b, hi);
    const quad cd0 = __builtin_shuffle(c, d, lo), cd1 = __builtin_shuffle(c, d, hi);
    const quad o0 = __builtin_shuffle(ab0, cd0, first), o1 = __builtin_shuffle(ab0, cd0, second);
    const quad o2 = __builtin_shuffle(ab1, cd1, first), o3 = __builtin_shuffle(ab1, cd1, second);
    memcpy(r0 + j, &o0, sizeof o0);
    memcpy(r1 + j, &o1, sizeof o1);
    memcpy(r2 + j, &o2, sizeof o2);
    memcpy(r3 + j, &o3, sizeof o3);
  }
  for (; j < n; j++) {
    r0[j] = src[4 * j];
    r1[j] = src[4 * j + 1];
    r2[j] = src[4 * j + 2];
    r3[j] = src[4 * j + 3];
  }
}

/* The inverse: dst[4j + b] = run b's value j. */
INLINE void zip4(const float *restrict r0, const float *restrict r1, const float *restrict r2, const float *restrict r3, int n, float *restrict dst) {
  const quad_index lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7}, first = {0, 1, 4, 5}, second = {2, 3, 6, 7};
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    quad a, b, c, d;
    memcpy(&a, r0 + j, sizeof a);
    memcpy(&b, r1 + j, sizeof b);
    memcpy(&c, r2 + j, sizeof c);
    memcpy(&d, r3 + j, sizeof d);
    const quad ab0 = __builtin_shuffle(a, b, lo), ab1 = __builtin_shuffle(a, b, hi);
    const quad cd0 = __builtin_shuffle(c, d, lo), cd1 = __builtin_shuffle(c, d, hi);
    const quad o0 = __builtin_shuffle(ab0, cd0, first), o1 = __builtin_shuffle(ab0, cd0, second);
    const quad o2 = __builtin_shuffle(ab1, cd1, first), o3 = __builtin_shuffle(ab1, cd1, second);
    memcpy(dst + 4 * j, &o0, sizeof o0);
    memcpy(dst + 4 * j + 4, &o1, sizeof o1);
    memcpy(dst + 4 * j + 8, &o2, sizeof o2);
    memcpy(dst + 4 * j + 12, &o3, sizeof o3);
  }
  for (; j < n; j++) {
    dst[4 * j] = r0[j];
    dst[4 * j + 1] = r1[j];
    dst[4 * j + 2] = r2[j];
    dst[4 * j + 3] = r3[j];
  }
}

/* Padded column x is the source's x − 1: source class 0 is run 1, …, class 3 is run 0 from 1. */
INLINE void plane_to_classes(const float *src, int th, int tw, float *cls) {
  const int h = 4 * th, w = 4 * tw, cw = tw + 1;
  memset(cls, 0, sizeof(float) * 4 * cw);
  memset(cls + (long)(h + 1) * 4 * cw, 0, sizeof(float) * 4 * cw);
  for (int y = 0; y < h; y++) {
    float *run = cls + (long)(y + 1) * 4 * cw;
    unzip4(src + (long)y * w, tw, run + cw, run + 2 * cw, run + 3 * cw, run + 1);
    run[0] = run[cw + tw] = run[2 * cw + tw] = run[3 * cw + tw] = 0.0f;
  }
}

INLINE void classes_to_plane(const float *cls, int th, int tw, float *dst) {
  const int h = 4 * th, w = 4 * tw, cw = tw + 1;
  for (int y = 0; y < h; y++) {
    const float *run = cls + (long)(y + 1) * 4 * cw;
    zip4(run + cw, run + 2 * cw, run + 3 * cw, run + 1, tw, dst + (long)y * w);
  }
}

/* The per-plane bodies below are inlined with DCGAN's tile counts as constants (planes of 8², 16²
   and 32²), so their short loops unroll; on D's 8 × 8 planes the loop overhead was most of the time. */
#define DISPATCH_TILES(th, tw, call)                     \
  do {                                                   \
    if ((th) == 2 && (tw) == 2) call(2, 2);              \
    else if ((th) == 4 && (tw) == 4) call(4, 4);         \
    else if ((th) == 8 && (tw) == 8) call(8, 8);         \
    else call(th, tw);                                   \
  } while (0)

/* One plane of one image into V (dst: its phase channel 0's first tile). */
INLINE void transform_plane(const float *src, int th, int tw, float *cls, float *dst, long tiles, long plane) {
  const int cw = tw + 1;
  plane_to_classes(src, th, tw, cls);
  for (int p = 0; p < 2; p++)
    for (int q = 0; q < 2; q++)
      for (int ti = 0; ti < th; ti++) {
        /* Padded rows 4ti + p, + 2, + 4; columns as in class_floats' comment. */
        const float *r0 = cls + (long)(4 * ti + p) * 4 * cw, *r1 = r0 + 8L * cw, *r2 = r1 + 8L * cw;
        const float *a0 = r0 + q * cw, *b0 = r0 + (q + 2) * cw, *a1 = r1 + q * cw, *b1 = r1 + (q + 2) * cw;
        const float *a2 = r2 + q * cw, *b2 = r2 + (q + 2) * cw;
        float *o = dst + (long)(p * 2 + q) * tiles + (long)ti * tw;
#pragma omp simd
        for (int tj = 0; tj < tw; tj++) {
          const float e00 = a0[tj] - a1[tj], e01 = b0[tj] - b1[tj], e02 = a0[tj + 1] - a1[tj + 1];
          const float e10 = a1[tj], e11 = b1[tj], e12 = a1[tj + 1];
          const float e20 = a2[tj] - a1[tj], e21 = b2[tj] - b1[tj], e22 = a2[tj + 1] - a1[tj + 1];
          o[0 * plane + tj] = e00 - e01;
          o[1 * plane + tj] = e01;
          o[2 * plane + tj] = e02 - e01;
          o[3 * plane + tj] = e10 - e11;
          o[4 * plane + tj] = e11;
          o[5 * plane + tj] = e12 - e11;
          o[6 * plane + tj] = e20 - e21;
          o[7 * plane + tj] = e21;
          o[8 * plane + tj] = e22 - e21;
        }
      }
}

/* V_ξν [4c × T] = Bᵀ d B for every phase channel and tile of images n0 … n0 + count. */
static void transform_images(const float *x, const conv_geometry *g, int count, float *v, float *pads) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 2, tw = g->out_w / 2;
  const long tiles = (long)count * th * tw, plane = tile_plane(4L * c, tiles);
#pragma omp parallel
  {
    float *cls = pads + (long)omp_get_thread_num() * class_floats(g);
#define PLANES(TH, TW)                                                                                                           \
  _Pragma("omp for collapse(2) schedule(static)") for (int ch = 0; ch < c; ch++) for (int img = 0; img < count; img++)        \
      transform_plane(x + ((long)img * c + ch) * h * w, TH, TW, cls, v + (long)ch * 4 * tiles + (long)img * th * tw, tiles, plane)
    DISPATCH_TILES(th, tw, PLANES);
#undef PLANES
  }
}

/* One column-side plane into Z (dst: its first tile), A ȳ Aᵀ per tile (A = [1 0; 1 1; 0 1]). */
INLINE void transform_output_plane(const float *src, int th, int tw, float *dst, long plane) {
  const int ow = 2 * tw;
  for (int ti = 0; ti < th; ti++) {
    const float *r0 = src + (long)(2 * ti) * ow, *r1 = r0 + ow;
    float *d = dst + (long)ti * tw;
#pragma omp simd
    for (int tj = 0; tj < tw; tj++) {
      const float a = r0[2 * tj], b = r0[2 * tj + 1], c = r1[2 * tj], e = r1[2 * tj + 1];
      const float ac = a + c, be = b + e;
      d[0 * plane + tj] = a;
      d[1 * plane + tj] = a + b;
      d[2 * plane + tj] = b;
      d[3 * plane + tj] = ac;
      d[4 * plane + tj] = ac + be;
      d[5 * plane + tj] = be;
      d[6 * plane + tj] = c;
      d[7 * plane + tj] = c + e;
      d[8 * plane + tj] = e;
    }
  }
}

/* One column-side plane from M (src: its first tile), Aᵀ M A per tile. */
INLINE void untransform_output_plane(const float *src, int th, int tw, float *dst, long plane) {
  const int ow = 2 * tw;
  for (int ti = 0; ti < th; ti++) {
    const float *s = src + (long)ti * tw;
    float *o0 = dst + (long)(2 * ti) * ow, *o1 = o0 + ow;
#pragma omp simd
    for (int tj = 0; tj < tw; tj++) {
      const float m0 = s[0 * plane + tj], m1 = s[1 * plane + tj], m2 = s[2 * plane + tj];
      const float m3 = s[3 * plane + tj], m4 = s[4 * plane + tj], m5 = s[5 * plane + tj];
      const float m6 = s[6 * plane + tj], m7 = s[7 * plane + tj], m8 = s[8 * plane + tj];
      const float r00 = m0 + m3, r01 = m1 + m4, r02 = m2 + m5, r10 = m3 + m6, r11 = m4 + m7, r12 = m5 + m8;
      o0[2 * tj] = r00 + r01;
      o0[2 * tj + 1] = r01 + r02;
      o1[2 * tj] = r10 + r11;
      o1[2 * tj + 1] = r11 + r12;
    }
  }
}

/* Z_ξν [k × T] = A ȳ Aᵀ for every output channel and tile. */
static void transform_outputs(const float *y, const conv_geometry *g, int k, int count, float *z) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 2, tw = ow / 2;
  const long tiles = (long)count * th * tw, plane = tile_plane(k, tiles);
#define PLANES(TH, TW)                                                                                                       \
  _Pragma("omp parallel for collapse(2) schedule(static)") for (int o = 0; o < k; o++) for (int img = 0; img < count; img++) \
      transform_output_plane(y + ((long)img * k + o) * oh * ow, TH, TW, z + (long)o * tiles + (long)img * th * tw, plane)
  DISPATCH_TILES(th, tw, PLANES);
#undef PLANES
}

/* y = Aᵀ M A per tile, into the column side's images n0 … (M_ξν [k × T]). */
static void untransform_outputs(const float *m, const conv_geometry *g, int k, int count, float *y) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 2, tw = ow / 2;
  const long tiles = (long)count * th * tw, plane = tile_plane(k, tiles);
#define PLANES(TH, TW)                                                                                                       \
  _Pragma("omp parallel for collapse(2) schedule(static)") for (int o = 0; o < k; o++) for (int img = 0; img < count; img++) \
      untransform_output_plane(m + (long)o * tiles + (long)img * th * tw, TH, TW, y + ((long)img * k + o) * oh * ow, plane)
  DISPATCH_TILES(th, tw, PLANES);
#undef PLANES
}

/* One plane of one image from W (src: its phase channel 0's first tile), summed in cls and written
   to dst. Tiles overlap by a row and a column. Run element tj of a0, a1, a2 takes column 0 of tile
   tj and column 2 of tile tj − 1 in one store: adding the second in a loop of its own stalled on
   store forwarding. */
INLINE void untransform_plane(const float *src, int th, int tw, float *cls, float *dst, long tiles, long plane) {
  const int cw = tw + 1;
  memset(cls, 0, sizeof(float) * (4L * th + 2) * 4 * cw);
  for (int p = 0; p < 2; p++)
    for (int q = 0; q < 2; q++)
      for (int ti = 0; ti < th; ti++) {
        float *r0 = cls + (long)(4 * ti + p) * 4 * cw, *r1 = r0 + 8L * cw, *r2 = r1 + 8L * cw;
        float *a0 = r0 + q * cw, *b0 = r0 + (q + 2) * cw, *a1 = r1 + q * cw, *b1 = r1 + (q + 2) * cw;
        float *a2 = r2 + q * cw, *b2 = r2 + (q + 2) * cw;
        /* B = [1 0 0; −1 1 −1; 0 0 1] along the rows, then the columns. */
        const float *w0 = src + (long)(p * 2 + q) * tiles + (long)ti * tw, *w1 = w0 + plane, *w2 = w0 + 2 * plane, *w3 = w0 + 3 * plane;
        const float *w4 = w0 + 4 * plane, *w5 = w0 + 5 * plane, *w6 = w0 + 6 * plane, *w7 = w0 + 7 * plane, *w8 = w0 + 8 * plane;
#pragma omp simd
        for (int tj = 0; tj < tw; tj++) {
          const float e01 = w1[tj] - w0[tj] - w2[tj], e21 = w7[tj] - w6[tj] - w8[tj];
          b0[tj] += e01;
          b1[tj] += w4[tj] - w3[tj] - w5[tj] - e01 - e21;
          b2[tj] += e21;
        }
#pragma omp simd
        for (int tj = 0; tj < tw; tj++) {
          const float c0 = tj > 0 ? w2[tj - 1] : 0.0f, c2 = tj > 0 ? w8[tj - 1] : 0.0f, c1 = tj > 0 ? w5[tj - 1] - c0 - c2 : 0.0f;
          a0[tj] += w0[tj] + c0;
          a1[tj] += (w3[tj] - w0[tj] - w6[tj]) + c1;
          a2[tj] += w6[tj] + c2;
        }
        a0[tw] += w2[tw - 1];
        a1[tw] += w5[tw - 1] - w2[tw - 1] - w8[tw - 1];
        a2[tw] += w8[tw - 1];
      }
  classes_to_plane(cls, th, tw, dst);
}

/* x̄ = Σ_tiles B W Bᵀ, added onto the image's phases (W_ξν [4c × T]); each thread sums whole
   planes, held by column class. */
static void untransform_images(const float *wm, const conv_geometry *g, int count, float *x, float *pads) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 2, tw = g->out_w / 2;
  const long tiles = (long)count * th * tw, plane = tile_plane(4L * c, tiles);
#pragma omp parallel
  {
    float *cls = pads + (long)omp_get_thread_num() * class_floats(g);
#define PLANES(TH, TW)                                                                                                           \
  _Pragma("omp for collapse(2) schedule(static)") for (int ch = 0; ch < c; ch++) for (int img = 0; img < count; img++)        \
      untransform_plane(wm + (long)ch * 4 * tiles + (long)img * th * tw, TH, TW, cls, x + ((long)img * c + ch) * h * w, tiles, plane)
    DISPATCH_TILES(th, tw, PLANES);
#undef PLANES
  }
}

/* ---- F(4×4, 2×2): 25 products for a 4×4 output tile per phase channel, where F(2×2, 2×2) takes 36
   for the same outputs (9 per 2×2) and the direct convolution 64. Interpolation points 0, ±1, ±2
   (no point at infinity: of the choices with small coefficients, the one that rounds least, about
   6× the direct convolution's error where F(2×2, 2×2) is 1.5×; test/native-direct-conv.test.ts
   bounds it). Bᵀ and Aᵀ have small integer coefficients, exact in float; G's fractions (1/4, 1/6,
   1/12, 1/24) are applied in double, so U and w̄ are rounded once.
     Bᵀ = [4 0 −5 0 1; 0 −4 −4 1 1; 0 4 −4 −1 1; 0 −2 −1 2 1; 0 2 −1 −2 1]
     G  = [1/4 0; −1/6 −1/6; −1/6 1/6; 1/24 1/12; 1/24 −1/12]
     Aᵀ = [1 1 1 1 1; 0 1 −1 2 −2; 0 1 1 4 4; 0 1 −1 8 −8]
   Tiles of 4×4 outputs read 5×5 values of a phase and overlap their neighbours by one. ---- */

static const double G4[5][2] = {{0.25, 0.0}, {-1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6}, {1.0 / 24, 1.0 / 12}, {1.0 / 24, -1.0 / 12}};

/* Bᵀ d for five values. */
#define BT5(d0, d1, d2, d3, d4, o0, o1, o2, o3, o4) \
  do {                                              \
    const __auto_type a_ = (d4) - 4.0f * (d2);     \
    const __auto_type b_ = (d3) - 4.0f * (d1);     \
    const __auto_type c_ = (d4) - (d2);            \
    const __auto_type e_ = 2.0f * ((d3) - (d1));   \
    o0 = 4.0f * (d0) - 5.0f * (d2) + (d4);        \
    o1 = b_ + a_;                                   \
    o2 = a_ - b_;                                   \
    o3 = c_ + e_;                                   \
    o4 = c_ - e_;                                   \
  } while (0)

/* B w for five values (the adjoint of BT5). */
#define B5(w0, w1, w2, w3, w4, o0, o1, o2, o3, o4) \
  do {                                             \
    const __auto_type s12_ = (w1) + (w2);          \
    const __auto_type d12_ = (w1) - (w2);          \
    const __auto_type s34_ = (w3) + (w4);          \
    const __auto_type d34_ = (w3) - (w4);          \
    o0 = 4.0f * (w0);                              \
    o1 = -4.0f * d12_ - 2.0f * d34_;               \
    o2 = -5.0f * (w0) - 4.0f * s12_ - s34_;        \
    o3 = d12_ + 2.0f * d34_;                       \
    o4 = (w0) + s12_ + s34_;                       \
  } while (0)

/* A ȳ for four values: the five points' values of the tile's row. */
#define A4(y0, y1, y2, y3, o0, o1, o2, o3, o4) \
  do {                                         \
    const __auto_type s02_ = (y0) + (y2);       \
    const __auto_type s13_ = (y1) + (y3);       \
    const __auto_type t_ = (y0) + 4.0f * (y2);  \
    const __auto_type u_ = 2.0f * (y1) + 8.0f * (y3); \
    o0 = (y0);                                 \
    o1 = s02_ + s13_;                          \
    o2 = s02_ - s13_;                          \
    o3 = t_ + u_;                              \
    o4 = t_ - u_;                              \
  } while (0)

/* Aᵀ m for five values. */
#define AT5(m0, m1, m2, m3, m4, o0, o1, o2, o3) \
  do {                                          \
    const __auto_type s12_ = (m1) + (m2);       \
    const __auto_type d12_ = (m1) - (m2);       \
    const __auto_type s34_ = (m3) + (m4);       \
    const __auto_type d34_ = (m3) - (m4);       \
    o0 = (m0) + s12_ + s34_;                    \
    o1 = d12_ + 2.0f * d34_;                    \
    o2 = s12_ + 4.0f * s34_;                    \
    o3 = d12_ + 8.0f * d34_;                    \
  } while (0)

/* Four doubles: a tap's four phases, as in transform_kernels, with G applied in double. */
typedef double quad_double __attribute__((vector_size(32)));

static inline quad_double widen(quad v) { return __builtin_convertvector(v, quad_double); }
static inline quad narrow(quad_double v) { return __builtin_convertvector(v, quad); }

/* U_ξν [k × 4c] = G g Gᵀ (5 × 5 points) for `count` phase channels from `ch` of output channel o:
   at count = 4 each of the 25 planes gets one whole 64-byte line (25 streams of 16-byte stores
   wrote each line in four visits). */
static inline void transform_kernel_channels4(const float *w, int o, int ch, int count, int c, long plane, float *u) {
  quad_double g00[4], g01[4], g10[4], g11[4];
  for (int q = 0; q < count; q++) {
    quad g[2][2];
    taps_to_phases(w + ((long)o * c + ch + q) * 16, g);
    g00[q] = widen(g[0][0]);
    g01[q] = widen(g[0][1]);
    g10[q] = widen(g[1][0]);
    g11[q] = widen(g[1][1]);
  }
  float *at = u + (long)o * 4 * c + ch * 4;
  for (int i = 0; i < 5; i++) {
    quad_double r0[4], r1[4];
    for (int q = 0; q < count; q++) {
      r0[q] = G4[i][0] * g00[q] + G4[i][1] * g10[q];
      r1[q] = G4[i][0] * g01[q] + G4[i][1] * g11[q];
    }
    for (int j = 0; j < 5; j++) {
      quad v[4];
      for (int q = 0; q < count; q++) v[q] = narrow(G4[j][0] * r0[q] + G4[j][1] * r1[q]);
      memcpy(at + (i * 5 + j) * plane, v, count * sizeof v[0]);
    }
  }
}

/* U_ξν [k × 4c] = G g Gᵀ (5 × 5 points) for every output channel and phase channel. */
static void transform_kernels4(const float *w, int k, int c, float *u) {
  const long plane = (long)k * 4 * c;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) transform_kernel_channels4(w, o, ch, 4, c, plane, u);
    for (; ch < c; ch++) transform_kernel_channels4(w, o, ch, 1, c, plane, u);
  }
}

/* w̄ = Gᵀ P G from P_ξν [k × 4c], the sum of `copies` partial Ps (in thread order; G in double). */
static void untransform_kernels4(const float *pm, int copies, int k, int c, float *w) {
  const long plane = (long)k * 4 * c, copy = 25 * plane;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    for (int ch = 0; ch < c; ch++) {
      const float *at = pm + (long)o * 4 * c + ch * 4;
      /* Rows of Gᵀ P: r[a][j] = Σ_i G[i][a] P[i][j]. */
      quad_double r[2][5];
      memset(r, 0, sizeof r);
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
          const quad_double md = widen(summed_copies(at + (i * 5 + j) * plane, copy, copies));
          r[0][j] += G4[i][0] * md;
          r[1][j] += G4[i][1] * md;
        }
      quad d[2][2];
      for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
          quad_double sum = {0, 0, 0, 0};
          for (int j = 0; j < 5; j++) sum += G4[j][b] * r[a][j];
          d[a][b] = narrow(sum);
        }
      phases_to_taps(d, w + ((long)o * c + ch) * 16);
    }
  }
}

/* The F(4×4, 2×2) transforms take LANES images at a time, one per vector lane: at DCGAN's small
   planes (1 to 4 tiles) vectors along a plane's tiles would be too short. Tiles are numbered
   position-major (tile (ti, tj) of image i of a chunk of `count` is (ti · tw + tj) · count + i), so
   the transformed tiles are loaded and stored as whole vectors; the planes are turned into lanes
   (and back) 8 × 8 at a time, in registers. Each thread works in its own staging plane of vectors. */
#define LANES 8
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
typedef int lanes_index __attribute__((vector_size(LANES * sizeof(int))));

/* v[j][i] ↔ v[i][j]. */
INLINE void transpose_lanes(lanes v[LANES]) {
  const lanes_index lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
  const lanes_index pairs_lo = {0, 1, 8, 9, 4, 5, 12, 13}, pairs_hi = {2, 3, 10, 11, 6, 7, 14, 15};
  const lanes_index halves_lo = {0, 1, 2, 3, 8, 9, 10, 11}, halves_hi = {4, 5, 6, 7, 12, 13, 14, 15};
  lanes t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(v[i], v[i + 1], lo);
    t[i + 1] = __builtin_shuffle(v[i], v[i + 1], hi);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = __builtin_shuffle(t[i], t[i + 2], pairs_lo);
    u[i + 1] = __builtin_shuffle(t[i], t[i + 2], pairs_hi);
    u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], pairs_lo);
    u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], pairs_hi);
  }
  for (int i = 0; i < 4; i++) {
    v[i] = __builtin_shuffle(u[i], u[i + 4], halves_lo);
    v[i + 4] = __builtin_shuffle(u[i], u[i + 4], halves_hi);
  }
}

/* Row `src` of `nb` images (`stride` floats apart) into s[0 … w): lane b is image b (0 beyond nb). */
INLINE void row_to_lanes(const float *src, long stride, int nb, int w, lanes *s) {
  for (int x0 = 0; x0 < w; x0 += LANES) {
    const int width = w - x0 < LANES ? w - x0 : LANES;
    lanes v[LANES];
    for (int b = 0; b < LANES; b++) {
      v[b] = (lanes){0};
      if (b >= nb) continue;
      if (width == LANES) memcpy(&v[b], src + b * stride + x0, sizeof(lanes));
      else memcpy(&v[b], src + b * stride + x0, sizeof(float) * width);
    }
    transpose_lanes(v);
    for (int j = 0; j < width; j++) s[x0 + j] = v[j];
  }
}

/* The inverse: s[0 … w) into row `dst` of `nb` images. */
INLINE void lanes_to_row(const lanes *s, int w, int nb, float *dst, long stride) {
  for (int x0 = 0; x0 < w; x0 += LANES) {
    const int width = w - x0 < LANES ? w - x0 : LANES;
    lanes v[LANES];
    for (int j = 0; j < LANES; j++) v[j] = j < width ? s[x0 + j] : (lanes){0};
    transpose_lanes(v);
    for (int b = 0; b < nb; b++) {
      if (width == LANES) memcpy(dst + b * stride + x0, &v[b], sizeof(lanes));
      else memcpy(dst + b * stride + x0, &v[b], sizeof(float) * width);
    }
  }
}

/* Whole vectors where all lanes are images (a chunk's last block may have fewer). */
INLINE lanes load_lanes(const float *src, int nb) {
  lanes v = {0};
  if (nb == LANES) memcpy(&v, src, sizeof v);
  else memcpy(&v, src, sizeof(float) * nb);
  return v;
}

INLINE void store_lanes(float *dst, lanes v, int nb) {
  if (nb == LANES) memcpy(dst, &v, sizeof v);
  else memcpy(dst, &v, sizeof(float) * nb);
}

/* A tile's five points along one axis, `plane` floats apart, as vectors. */
INLINE void store_points(float *at, long plane, int nb, const lanes v[5]) {
  for (int i = 0; i < 5; i++) store_lanes(at + i * plane, v[i], nb);
}

INLINE void load_points(const float *at, long plane, int nb, lanes v[5]) {
  for (int i = 0; i < 5; i++) v[i] = load_lanes(at + i * plane, nb);
}

/* Each thread's staging, in floats: a padded plane of vectors and five rows. */
static long staging_floats(const conv_geometry *g) { return whole_lines((long)LANES * ((g->h + 2) * (g->w + 2) + 5 * (g->w + 2))); }

/* The staging planes start on a cache line (the scratch buffer does; the tile planes before them need not end on one). */
static inline float *aligned_floats(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static inline int lane_blocks(int count) { return (count + LANES - 1) / LANES; }

/* V_ξν [4c × T] = Bᵀ d B for every phase channel and tile of `count` images: the plane into lanes,
   rows (into rows padded by a zero column on each side), then each tile's columns. Phase (p, q)'s
   value (u, v) is the padded image's (2u + p, 2v + q). */
static void transform_images4(const float *x, const conv_geometry *g, int count, float *v, float *stage) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 4, tw = g->out_w / 4, rw = w + 2, blocks = lane_blocks(count);
  const long tiles = (long)count * th * tw, plane = tile_plane(4L * c, tiles), image = (long)c * h * w;
#pragma omp parallel
  {
    lanes *s = (lanes *)(stage + (long)omp_get_thread_num() * staging_floats(g)), *rows = s + h * w;
    const lanes zero = {0};
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < c; ch++)
      for (int blk = 0; blk < blocks; blk++) {
        const int b0 = blk * LANES, nb = count - b0 < LANES ? count - b0 : LANES;
        const float *src = x + (long)b0 * image + (long)ch * h * w;
        for (int y = 0; y < h; y++) row_to_lanes(src + (long)y * w, image, nb, w, s + y * w);
        for (int i = 0; i < 5; i++) rows[i * rw] = rows[i * rw + rw - 1] = zero;
        for (int p = 0; p < 2; p++)
          for (int ti = 0; ti < th; ti++) {
            const lanes *d[5];
            for (int l = 0; l < 5; l++) {
              const int y = 8 * ti + 2 * l + p - 1;
              d[l] = y >= 0 && y < h ? s + y * w : NULL;
            }
            for (int col = 0; col < w; col++) {
              const lanes d0 = d[0] != NULL ? d[0][col] : zero, d4 = d[4] != NULL ? d[4][col] : zero;
              BT5(d0, d[1][col], d[2][col], d[3][col], d4, rows[col + 1], rows[rw + col + 1], rows[2 * rw + col + 1], rows[3 * rw + col + 1],
                  rows[4 * rw + col + 1]);
            }
            for (int q = 0; q < 2; q++)
              for (int tj = 0; tj < tw; tj++)
                for (int i = 0; i < 5; i++) {
                  const lanes *r = rows + i * rw + 8 * tj + q;
                  lanes out[5];
                  BT5(r[0], r[2], r[4], r[6], r[8], out[0], out[1], out[2], out[3], out[4]);
                  store_points(v + (long)(i * 5) * plane + (long)(ch * 4 + p * 2 + q) * tiles + (long)(ti * tw + tj) * count + b0, plane, nb, out);
                }
          }
      }
  }
}

/* Z_ξν [k × T] = A ȳ Aᵀ for every output channel and 4×4 tile. */
static void transform_outputs4(const float *y, const conv_geometry *g, int k, int count, float *z, float *stage) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 4, tw = ow / 4, blocks = lane_blocks(count);
  const long tiles = (long)count * th * tw, plane = tile_plane(k, tiles), column = (long)k * oh * ow;
#pragma omp parallel
  {
    lanes *s = (lanes *)(stage + (long)omp_get_thread_num() * staging_floats(g)), *rows = s + oh * ow;
#pragma omp for collapse(2) schedule(static)
    for (int o = 0; o < k; o++)
      for (int blk = 0; blk < blocks; blk++) {
        const int b0 = blk * LANES, nb = count - b0 < LANES ? count - b0 : LANES;
        const float *src = y + (long)b0 * column + (long)o * oh * ow;
        for (int r = 0; r < oh; r++) row_to_lanes(src + (long)r * ow, column, nb, ow, s + r * ow);
        for (int ti = 0; ti < th; ti++) {
          const lanes *y0 = s + 4 * ti * ow, *y1 = y0 + ow, *y2 = y1 + ow, *y3 = y2 + ow;
          for (int col = 0; col < ow; col++) A4(y0[col], y1[col], y2[col], y3[col], rows[col], rows[ow + col], rows[2 * ow + col], rows[3 * ow + col], rows[4 * ow + col]);
          for (int tj = 0; tj < tw; tj++)
            for (int i = 0; i < 5; i++) {
              const lanes *e = rows + i * ow + 4 * tj;
              lanes out[5];
              A4(e[0], e[1], e[2], e[3], out[0], out[1], out[2], out[3], out[4]);
              store_points(z + (long)(i * 5) * plane + (long)o * tiles + (long)(ti * tw + tj) * count + b0, plane, nb, out);
            }
        }
      }
  }
}

/* y = Aᵀ M A per tile, into the column side's images (M_ξν [k × T]). */
static void untransform_outputs4(const float *m, const conv_geometry *g, int k, int count, float *y, float *stage) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 4, tw = ow / 4, blocks = lane_blocks(count);
  const long tiles = (long)count * th * tw, plane = tile_plane(k, tiles), column = (long)k * oh * ow;
#pragma omp parallel
  {
    lanes *out = (lanes *)(stage + (long)omp_get_thread_num() * staging_floats(g));
#pragma omp for collapse(2) schedule(static)
    for (int o = 0; o < k; o++)
      for (int blk = 0; blk < blocks; blk++) {
        const int b0 = blk * LANES, nb = count - b0 < LANES ? count - b0 : LANES;
        for (int ti = 0; ti < th; ti++)
          for (int tj = 0; tj < tw; tj++) {
            const float *src = m + (long)o * tiles + (long)(ti * tw + tj) * count + b0;
            lanes r[5][4];
            for (int i = 0; i < 5; i++) {
              lanes m[5];
              load_points(src + (long)(i * 5) * plane, plane, nb, m);
              AT5(m[0], m[1], m[2], m[3], m[4], r[i][0], r[i][1], r[i][2], r[i][3]);
            }
            lanes *at = out + 4 * ti * ow + 4 * tj;
            for (int j = 0; j < 4; j++) AT5(r[0][j], r[1][j], r[2][j], r[3][j], r[4][j], at[j], at[ow + j], at[2 * ow + j], at[3 * ow + j]);
          }
        float *dst = y + (long)b0 * column + (long)o * oh * ow;
        for (int r = 0; r < oh; r++) lanes_to_row(out + r * ow, ow, nb, dst + (long)r * ow, column);
      }
  }
}

/* x̄ = Σ_tiles B W Bᵀ (W_ξν [4c × T]): each tile's 5×5 values added into its phase of the padded
   plane of lanes (tiles overlap by a row and a column of their phase), then its interior written out. */
static void untransform_images4(const float *wm, const conv_geometry *g, int count, float *x, float *stage) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 4, tw = g->out_w / 4, pw = w + 2, blocks = lane_blocks(count);
  const long tiles = (long)count * th * tw, plane = tile_plane(4L * c, tiles), image = (long)c * h * w;
#pragma omp parallel
  {
    lanes *pad = (lanes *)(stage + (long)omp_get_thread_num() * staging_floats(g));
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < c; ch++)
      for (int blk = 0; blk < blocks; blk++) {
        const int b0 = blk * LANES, nb = count - b0 < LANES ? count - b0 : LANES;
        memset(pad, 0, sizeof(lanes) * (h + 2) * pw);
        for (int p = 0; p < 2; p++)
          for (int q = 0; q < 2; q++)
            for (int ti = 0; ti < th; ti++)
              for (int tj = 0; tj < tw; tj++) {
                const float *src = wm + (long)(ch * 4 + p * 2 + q) * tiles + (long)(ti * tw + tj) * count + b0;
                lanes r[5][5];
                for (int i = 0; i < 5; i++) {
                  lanes m[5];
                  load_points(src + (long)(i * 5) * plane, plane, nb, m);
                  B5(m[0], m[1], m[2], m[3], m[4], r[i][0], r[i][1], r[i][2], r[i][3], r[i][4]);
                }
                lanes *at = pad + (8 * ti + p) * pw + 8 * tj + q;
                for (int j = 0; j < 5; j++) {
                  lanes x0, x1, x2, x3, x4;
                  B5(r[0][j], r[1][j], r[2][j], r[3][j], r[4][j], x0, x1, x2, x3, x4);
                  at[2 * j] += x0;
                  at[2 * pw + 2 * j] += x1;
                  at[4 * pw + 2 * j] += x2;
                  at[6 * pw + 2 * j] += x3;
                  at[8 * pw + 2 * j] += x4;
                }
              }
        float *dst = x + (long)b0 * image + (long)ch * h * w;
        for (int r = 0; r < h; r++) lanes_to_row(pad + (r + 1) * pw + 1, w, nb, dst + (long)r * w, image);
      }
  }
}

/* The products C_i = op(A_i)·op(B_i) + β C_i, one per point (9 or 25), side by side: each thread
   runs single-threaded GEMMs on column strips of them, so the threads share the work evenly however
   small each is. oneDNN's sgemm where the addon has it (faster than OpenBLAS's on these shapes). */
static void products(int points, int split, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int kk, const float *a, int lda, long sa,
                     const float *b, int ldb, long sb, float beta, float *c, int ldc, long sc) {
  const int strip = (n + split - 1) / split;
#pragma omp parallel for schedule(static) collapse(2)
  for (int i = 0; i < points; i++)
    for (int part = 0; part < split; part++) {
      const int j0 = part * strip, width = n - j0 < strip ? n - j0 : strip;
      if (width <= 0) continue;
      const float *bp = tb == CblasNoTrans ? b + i * sb + j0 : b + i * sb + (long)j0 * ldb;
#ifdef DCGAN_DNNL
      dnnl_sgemm(ta == CblasNoTrans ? 'N' : 'T', tb == CblasNoTrans ? 'N' : 'T', m, width, kk, 1.0f, a + i * sa, lda, bp, ldb, beta, c + i * sc + j0, ldc);
#else
      cblas_sgemm(CblasRowMajor, ta, tb, m, width, kk, 1.0f, a + i * sa, lda, bp, ldb, beta, c + i * sc + j0, ldc);
#endif
    }
}

/* A form of the algorithm: its output tile's side (2 or 4) and its points per tile, (side + 1)². */
typedef struct {
  int side, points;
} winograd_form;

static long tiles_per_image(const conv_geometry *g, winograd_form f) { return (long)(g->out_h / f.side) * (g->out_w / f.side); }

/* Images per shared chunk: their transformed tiles within WINOGRAD_BUDGET. */
static int images_per_chunk(const conv_geometry *g, int k, winograd_form f) {
  const long per_image = f.points * tiles_per_image(g, f) * (4L * g->c + k) * (long)sizeof(float);
  const long chunk = WINOGRAD_BUDGET / per_image;
  return chunk < 1 ? 1 : chunk < g->n ? (int)chunk : g->n;
}

/* Images first … last − 1 in chunks of per_chunk: transform, the products (split column strips
   each), untransform. `kernels` is U for the convolution and its adjoint, and the P this call
   sums into for the weights (overwritten by the first chunk). */
static void run_chunks(int pass, winograd_form f, const conv_geometry *g, int k, const float *input, const float *second, float *output, int first,
                       int last, int per_chunk, int split, float *kernels, float *images, float *columns, float *pads) {
  const int cp = 4 * g->c, four = f.side == 4;
  const long per_image = tiles_per_image(g, f);
  const long image = (long)g->c * g->h * g->w, column = (long)k * g->out_h * g->out_w;
  for (int n0 = first; n0 < last; n0 += per_chunk) {
    const int count = last - n0 < per_chunk ? last - n0 : per_chunk;
    const long t = count * per_image;
    if (pass == DIRECT_CONVOLVE) {
      if (four) transform_images4(input + n0 * image, g, count, images, pads);
      else transform_images(input + n0 * image, g, count, images, pads);
      products(f.points, split, CblasNoTrans, CblasNoTrans, k, t, cp, kernels, cp, (long)k * cp, images, t, tile_plane(cp, t), 0.0f, columns, t,
               tile_plane(k, t));
      if (four) untransform_outputs4(columns, g, k, count, output + n0 * column, pads);
      else untransform_outputs(columns, g, k, count, output + n0 * column);
    } else if (pass == DIRECT_ADJOINT) {
      if (four) transform_outputs4(input + n0 * column, g, k, count, columns, pads);
      else transform_outputs(input + n0 * column, g, k, count, columns);
      products(f.points, split, CblasTrans, CblasNoTrans, cp, t, k, kernels, cp, (long)k * cp, columns, t, tile_plane(k, t), 0.0f, images, t,
               tile_plane(cp, t));
      if (four) untransform_images4(images, g, count, output + n0 * image, pads);
      else untransform_images(images, g, count, output + n0 * image, pads);
    } else {
      if (four) {
        transform_images4(input + n0 * image, g, count, images, pads);
        transform_outputs4(second + n0 * column, g, k, count, columns, pads);
      } else {
        transform_images(input + n0 * image, g, count, images, pads);
        transform_outputs(second + n0 * column, g, k, count, columns);
      }
      products(f.points, split, CblasNoTrans, CblasTrans, k, cp, t, columns, t, tile_plane(k, t), images, t, tile_plane(cp, t), n0 == first ? 0.0f : 1.0f,
               kernels, cp, (long)k * cp);
    }
  }
}

/* Whether each thread should take its own images through the whole pipeline, a chunk of about
   PIPELINE_CHUNK_TILES tiles at a time, so that the transformed tiles it writes are still in its
   cache when it multiplies them (on one thread too: smaller chunks than the shared budget's). The
   weight gradient then needs a P per thread, summed at the end, and reads and writes it once per
   chunk: for large kernels that costs more than the pipeline saves. */
#define PIPELINE_CHUNK_TILES 128
#define PIPELINE_WEIGHTS_BYTES (8L << 20)
/* A chunk is at least one image: for very large images the threads' chunks together would
   outgrow the shared budget many times over, so those take the shared chunks. */
#define PIPELINE_MAX_BYTES (64L << 20)

static long pipeline_chunk_images(const conv_geometry *g, winograd_form f) {
  const long per_image = tiles_per_image(g, f);
  return (PIPELINE_CHUNK_TILES + per_image - 1) / per_image;
}

static int pipelined(int pass, winograd_form f, const conv_geometry *g, int k, int threads) {
  if (g->n < 2 * threads) return 0;
  const long chunk_tiles = pipeline_chunk_images(g, f) * tiles_per_image(g, f);
  if ((long)threads * f.points * chunk_tiles * (4L * g->c + k) * (long)sizeof(float) > PIPELINE_MAX_BYTES) return 0;
  return pass != DIRECT_WEIGHTS || (long)f.points * k * 4 * g->c * (long)sizeof(float) <= PIPELINE_WEIGHTS_BYTES;
}

/* F(4×4, 2×2)'s U for the weights of the last few calls. A training step convolves with the same
   weights several times (D's forward on real and fake images and both backward passes before its
   update; G's forward and backward), and F(4×4, 2×2)'s U is 6.25 times the weights: making it
   again each time cost more than checking the weights. An entry is used only when its copy of the
   weights is bitwise the caller's now (weights updated in place are seen as new). F(2×2, 2×2)'s U,
   2.25 times the weights, is made at every call: there the check and the entries' memory cost
   about what they save (an A/B of training steps was slower with them). Entries larger than
   U_CACHE_ENTRY_BYTES are not kept, so the cache stays within U_CACHE_ENTRIES times that. */
#define U_CACHE_ENTRIES 6
#define U_CACHE_ENTRY_BYTES (16L << 20)

typedef struct {
  int k, c;
  float *weights, *u;
  unsigned long last_use;
} kernel_entry;

static kernel_entry kernel_cache[U_CACHE_ENTRIES];
static unsigned long kernel_clock;

/* Whether the bytes are the same, compared by every thread at once: each reads its own part of the
   weights, as each then reads its own images, rather than the calling thread reading all of them
   into its cache first. An entry for other weights differs at once, so the first line is checked
   alone. */
static int same_bytes(const void *a, const void *b, size_t bytes) {
  const size_t head = bytes < 64 ? bytes : 64;
  if (memcmp(a, b, head) != 0) return 0;
  const long blocks = (long)((bytes - head + 4095) / 4096);
  int differ = 0;
#pragma omp parallel for schedule(static) reduction(|| : differ) if (blocks >= 16)
  for (long i = 0; i < blocks; i++) {
    const size_t at = head + (size_t)i * 4096, size = bytes - at < 4096 ? bytes - at : 4096;
    differ = differ || memcmp((const char *)a + at, (const char *)b + at, size) != 0;
  }
  return !differ;
}

/* U for weights w (k × c × 4 × 4), from the cache or transformed into it; NULL where it is not kept. */
static const float *cached_kernels(const float *w, int k, int c, winograd_form f) {
  const size_t weight_bytes = sizeof(float) * 16 * k * c, u_bytes = sizeof(float) * f.points * k * 4 * c;
  if (f.side != 4 || u_bytes > (size_t)U_CACHE_ENTRY_BYTES) return NULL;
  kernel_entry *slot = &kernel_cache[0];
  for (int i = 0; i < U_CACHE_ENTRIES; i++) {
    kernel_entry *e = &kernel_cache[i];
    if (e->u != NULL && e->k == k && e->c == c && same_bytes(e->weights, w, weight_bytes)) {
      e->last_use = ++kernel_clock;
      return e->u;
    }
    if (e->u == NULL || (slot->u != NULL && e->last_use < slot->last_use)) slot = e;
  }
  /* The least recently used entry (or an empty one) takes these weights, reusing its memory when the shape is the same. */
  if (slot->u == NULL || slot->k != k || slot->c != c) {
    free(slot->weights);
    free(slot->u);
    slot->weights = malloc(weight_bytes);
    slot->u = aligned_alloc(64, (u_bytes + 63) / 64 * 64);
    if (slot->weights == NULL || slot->u == NULL) {
      free(slot->weights);
      free(slot->u);
      slot->weights = slot->u = NULL;
      return NULL;
    }
    slot->k = k;
    slot->c = c;
  }
  memcpy(slot->weights, w, weight_bytes);
  transform_kernels4(w, k, c, slot->u);
  slot->last_use = ++kernel_clock;
  return slot->u;
}

/* F(4×4, 2×2) needs at least this many tiles in a call: its U, 25 planes of k × 4c, is read once for
   every column the products have, so with fewer the products wait on memory for U (D's 4 × 4 layer at
   batch 64 has 64 tiles; timed alone, with U in cache, it won; in a training step it lost by half). */
#define WINOGRAD4_MIN_TILES 128

int native_winograd_applies(const conv_geometry *g, int side) {
  if (side == 4 && (long)g->n * (g->out_h / 4) * (g->out_w / 4) < WINOGRAD4_MIN_TILES) return 0;
  return (side == 2 || side == 4) && g->kh == 4 && g->kw == 4 && g->stride_h == 2 && g->stride_w == 2 && g->pad_h == 1 && g->pad_w == 1 &&
         g->h == 2 * g->out_h && g->w == 2 * g->out_w && g->out_h % side == 0 && g->out_w % side == 0 && g->n > 0;
}

int native_winograd_conv(int pass, int side, const conv_geometry *g, int k, const float *input, const float *second, float *output) {
  if (!native_winograd_applies(g, side) || (pass != DIRECT_CONVOLVE && pass != DIRECT_ADJOINT && pass != DIRECT_WEIGHTS)) return 0;
  const winograd_form f = {side, (side + 1) * (side + 1)};
  const int c = g->c, cp = 4 * c, threads = omp_get_max_threads();
  const long kernel_floats = (long)f.points * k * cp, pad_floats = (side == 4 ? staging_floats(g) : class_floats(g)) + 16;
  if (pipelined(pass, f, g, k, threads)) {
    /* Chunks of about PIPELINE_CHUNK_TILES tiles: the products' column count, enough for GEMM to
       run near its best. */
    const int per_chunk = (int)pipeline_chunk_images(g, f);
    const long chunk_tiles = per_chunk * tiles_per_image(g, f),
               per_thread = whole_lines(f.points * (tile_plane(cp, chunk_tiles) + tile_plane(k, chunk_tiles)) + pad_floats);
    /* Each thread's transformed tiles and plane, then U, or one P per thread for the weights. The
       threads' shares come first so that they lie at the same addresses in every pass of a layer:
       a thread's tiles go where its own last call left them, still in its cache (after U or the Ps
       they would move with the pass, and thread 1's first writes in the weight gradient, right
       after the input gradient, went to lines no longer cached). */
    const float *kept = pass != DIRECT_WEIGHTS ? cached_kernels(second, k, c, f) : NULL;
    const int kernel_copies = pass == DIRECT_WEIGHTS ? threads : kept != NULL ? 0 : 1;
    float *shares = native_scratch(sizeof(float) * (threads * per_thread + kernel_floats * kernel_copies));
    if (shares == NULL) return 0;
    float *u = shares + threads * per_thread;
    if (pass != DIRECT_WEIGHTS && kept == NULL) {
      if (side == 4) transform_kernels4(second, k, c, u);
      else transform_kernels(second, k, c, u);
    }
    int team = 1;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
#pragma omp single
      team = omp_get_num_threads();
      float *images = shares + t * per_thread, *columns = images + f.points * tile_plane(cp, chunk_tiles);
      float *kernels = pass == DIRECT_WEIGHTS ? u + t * kernel_floats : kept != NULL ? (float *)kept : u;
      const int first = (int)((long)g->n * t / team), last = (int)((long)g->n * (t + 1) / team);
      run_chunks(pass, f, g, k, input, second, output, first, last, per_chunk, 1, kernels, images, columns, aligned_floats(columns + f.points * tile_plane(k, chunk_tiles)));
    }
    /* Every thread had images (n ≥ 2 · threads), so every P is written. */
    if (pass == DIRECT_WEIGHTS) {
      if (side == 4) untransform_kernels4(u, team, k, c, output);
      else untransform_kernels(u, team, k, c, output);
    }
    return 1;
  }
  const int per_chunk = images_per_chunk(g, k, f);
  const long chunk_tiles = per_chunk * tiles_per_image(g, f);
  /* The chunk's transformed images and column side, a padded plane per thread, then U (or P):
     first what every pass of the layer has, as above. */
  const float *kept = pass != DIRECT_WEIGHTS ? cached_kernels(second, k, c, f) : NULL;
  const long own_kernels = kept != NULL ? 0 : kernel_floats,
             tiles_floats = whole_lines(f.points * (tile_plane(cp, chunk_tiles) + tile_plane(k, chunk_tiles)) + threads * pad_floats);
  float *images = native_scratch(sizeof(float) * (tiles_floats + own_kernels));
  if (images == NULL) return 0;
  float *columns = images + f.points * tile_plane(cp, chunk_tiles), *pads = aligned_floats(columns + f.points * tile_plane(k, chunk_tiles)), *u = images + tiles_floats;
  if (pass != DIRECT_WEIGHTS && kept == NULL) {
    if (side == 4) transform_kernels4(second, k, c, u);
    else transform_kernels(second, k, c, u);
  }
  run_chunks(pass, f, g, k, input, second, output, 0, g->n, per_chunk, threads, kept != NULL ? (float *)kept : u, images, columns, pads);
  if (pass == DIRECT_WEIGHTS) {
    if (side == 4) untransform_kernels4(u, 1, k, c, output);
    else untransform_kernels(u, 1, k, c, output);
  }
  return 1;
}
