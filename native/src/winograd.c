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
 * U = G g Gᵀ is made once per call. The chunks keep the transformed tiles within a budget.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#ifdef DCGAN_DNNL
#include <dnnl.h>
#endif

#include "kernels.h"

/* The transformed tiles of one chunk (V or Z, and M or W) stay within this many bytes. */
#define WINOGRAD_BUDGET (16L << 20)

static float *scratch = NULL;
static size_t scratch_bytes = 0;

static float *grow_scratch(size_t bytes) {
  if (bytes > scratch_bytes) {
    free(scratch);
    scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    scratch_bytes = scratch != NULL ? bytes : 0;
  }
  return scratch;
}

int native_winograd_applies(const conv_geometry *g) {
  return g->kh == 4 && g->kw == 4 && g->stride_h == 2 && g->stride_w == 2 && g->pad_h == 1 && g->pad_w == 1 &&
         g->h == 2 * g->out_h && g->w == 2 * g->out_w && g->out_h % 2 == 0 && g->out_w % 2 == 0 && g->n > 0;
}

/* U_ξν [k × 4c] = G g Gᵀ for every output channel and phase channel. */
static void transform_kernels(const float *w, int k, int c, float *u) {
  const long plane = (long)k * 4 * c;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    for (int ch = 0; ch < c; ch++) {
      const float *src = w + ((long)o * c + ch) * 16;
      for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) {
          const float g00 = src[p * 4 + q], g01 = src[p * 4 + 2 + q], g10 = src[(2 + p) * 4 + q], g11 = src[(2 + p) * 4 + 2 + q];
          /* Rows: (g0, g0 + g1, g1); then columns the same. */
          const float r[3][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g10, g11}};
          const long at = (long)o * 4 * c + ch * 4 + p * 2 + q;
          for (int i = 0; i < 3; i++) {
            u[(i * 3 + 0) * plane + at] = r[i][0];
            u[(i * 3 + 1) * plane + at] = r[i][0] + r[i][1];
            u[(i * 3 + 2) * plane + at] = r[i][1];
          }
        }
    }
  }
}

/* The weight gradient from P_ξν [k × 4c]: w̄ = Gᵀ P G. */
static void untransform_kernels(const float *pm, int k, int c, float *w) {
  const long plane = (long)k * 4 * c;
#pragma omp parallel for schedule(static)
  for (int o = 0; o < k; o++) {
    for (int ch = 0; ch < c; ch++) {
      float *dst = w + ((long)o * c + ch) * 16;
      for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) {
          const long at = (long)o * 4 * c + ch * 4 + p * 2 + q;
          float m[3][3];
          for (int i = 0; i < 9; i++) m[i / 3][i % 3] = pm[i * plane + at];
          /* Gᵀ = [1 1 0; 0 1 1] on both sides. */
          float r[2][3];
          for (int j = 0; j < 3; j++) {
            r[0][j] = m[0][j] + m[1][j];
            r[1][j] = m[1][j] + m[2][j];
          }
          for (int a = 0; a < 2; a++) {
            dst[(2 * a + p) * 4 + q] = r[a][0] + r[a][1];
            dst[(2 * a + p) * 4 + 2 + q] = r[a][1] + r[a][2];
          }
        }
    }
  }
}

/* V_ξν [4c × T] = Bᵀ d B for every phase channel and tile of images n0 … n0 + count. Each plane
   is copied once into a buffer with its padding, so the tiles read it without a bound check. */
static void transform_images(const float *x, const conv_geometry *g, int count, float *v, float *pads) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 2, tw = g->out_w / 2, pw = w + 2;
  const long tiles = (long)count * th * tw, plane = 4L * c * tiles;
#pragma omp parallel
  {
    float *pad = pads + (long)omp_get_thread_num() * (h + 2) * pw;
    memset(pad, 0, sizeof(float) * (h + 2) * pw);
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < c; ch++)
      for (int img = 0; img < count; img++) {
        const float *src = x + ((long)img * c + ch) * h * w;
        for (int y = 0; y < h; y++) memcpy(pad + (long)(y + 1) * pw + 1, src + (long)y * w, sizeof(float) * w);
        for (int p = 0; p < 2; p++)
          for (int q = 0; q < 2; q++) {
            float *dst = v + (long)(ch * 4 + p * 2 + q) * tiles + (long)img * th * tw;
            for (int ti = 0; ti < th; ti++) {
              /* Padded rows 4ti + 2r + p, columns 4tj + 2s + q. */
              const float *r0 = pad + (long)(4 * ti + p) * pw + q, *r1 = r0 + 2 * pw, *r2 = r1 + 2 * pw;
              float *o = dst + (long)ti * tw;
#pragma omp simd
              for (int tj = 0; tj < tw; tj++) {
                const int x0 = 4 * tj;
                const float e00 = r0[x0] - r1[x0], e01 = r0[x0 + 2] - r1[x0 + 2], e02 = r0[x0 + 4] - r1[x0 + 4];
                const float e10 = r1[x0], e11 = r1[x0 + 2], e12 = r1[x0 + 4];
                const float e20 = r2[x0] - r1[x0], e21 = r2[x0 + 2] - r1[x0 + 2], e22 = r2[x0 + 4] - r1[x0 + 4];
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
      }
  }
}

/* Z_ξν [k × T] = A ȳ Aᵀ for every output channel and tile (A = [1 0; 1 1; 0 1]). */
static void transform_outputs(const float *y, const conv_geometry *g, int k, int count, float *z) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 2, tw = ow / 2;
  const long tiles = (long)count * th * tw, plane = (long)k * tiles;
#pragma omp parallel for collapse(2) schedule(static)
  for (int o = 0; o < k; o++)
    for (int img = 0; img < count; img++) {
      const float *src = y + ((long)img * k + o) * oh * ow;
      float *dst = z + (long)o * tiles + (long)img * th * tw;
      for (int ti = 0; ti < th; ti++)
        for (int tj = 0; tj < tw; tj++) {
          const float *r0 = src + (long)(2 * ti) * ow + 2 * tj, *r1 = r0 + ow;
          const float e[3][2] = {{r0[0], r0[1]}, {r0[0] + r1[0], r0[1] + r1[1]}, {r1[0], r1[1]}};
          const long t = (long)ti * tw + tj;
          for (int i = 0; i < 3; i++) {
            dst[(i * 3 + 0) * plane + t] = e[i][0];
            dst[(i * 3 + 1) * plane + t] = e[i][0] + e[i][1];
            dst[(i * 3 + 2) * plane + t] = e[i][1];
          }
        }
    }
}

/* y = Aᵀ M A per tile, into the column side's images n0 … (M_ξν [k × T]). */
static void untransform_outputs(const float *m, const conv_geometry *g, int k, int count, float *y) {
  const int oh = g->out_h, ow = g->out_w, th = oh / 2, tw = ow / 2;
  const long tiles = (long)count * th * tw, plane = (long)k * tiles;
#pragma omp parallel for collapse(2) schedule(static)
  for (int o = 0; o < k; o++)
    for (int img = 0; img < count; img++) {
      const float *src = m + (long)o * tiles + (long)img * th * tw;
      float *dst = y + ((long)img * k + o) * oh * ow;
      for (int ti = 0; ti < th; ti++)
        for (int tj = 0; tj < tw; tj++) {
          const long t = (long)ti * tw + tj;
          float r[2][3];
          for (int j = 0; j < 3; j++) {
            const float m0 = src[(0 * 3 + j) * plane + t], m1 = src[(1 * 3 + j) * plane + t], m2 = src[(2 * 3 + j) * plane + t];
            r[0][j] = m0 + m1;
            r[1][j] = m1 + m2;
          }
          float *o0 = dst + (long)(2 * ti) * ow + 2 * tj, *o1 = o0 + ow;
          o0[0] = r[0][0] + r[0][1];
          o0[1] = r[0][1] + r[0][2];
          o1[0] = r[1][0] + r[1][1];
          o1[1] = r[1][1] + r[1][2];
        }
    }
}

/* x̄ = Σ_tiles B W Bᵀ, added onto the image's phases (W_ξν [4c × T]); tiles overlap by a row and a
   column, so each thread sums whole planes in a buffer with the padding, then copies the interior. */
static void untransform_images(const float *wm, const conv_geometry *g, int count, float *x, float *pads) {
  const int c = g->c, h = g->h, w = g->w, th = g->out_h / 2, tw = g->out_w / 2, pw = w + 2;
  const long tiles = (long)count * th * tw, plane = 4L * c * tiles;
#pragma omp parallel
  {
    float *pad = pads + (long)omp_get_thread_num() * (h + 2) * pw;
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < c; ch++)
      for (int img = 0; img < count; img++) {
        memset(pad, 0, sizeof(float) * (h + 2) * pw);
        for (int p = 0; p < 2; p++)
          for (int q = 0; q < 2; q++) {
            const float *src = wm + (long)(ch * 4 + p * 2 + q) * tiles + (long)img * th * tw;
            for (int ti = 0; ti < th; ti++) {
              float *r0 = pad + (long)(4 * ti + p) * pw + q, *r1 = r0 + 2 * pw, *r2 = r1 + 2 * pw;
              const float *in = src + (long)ti * tw;
              /* B = [1 0 0; −1 1 −1; 0 0 1] along the rows, then the columns; tiles tj and tj + 1
                 share a column, so the loop runs in order. */
              for (int tj = 0; tj < tw; tj++) {
                const float w00 = in[0 * plane + tj], w01 = in[1 * plane + tj], w02 = in[2 * plane + tj];
                const float w10 = in[3 * plane + tj], w11 = in[4 * plane + tj], w12 = in[5 * plane + tj];
                const float w20 = in[6 * plane + tj], w21 = in[7 * plane + tj], w22 = in[8 * plane + tj];
                const float e00 = w00, e01 = w01 - w00 - w02, e02 = w02;
                const float e10 = w10, e11 = w11 - w10 - w12, e12 = w12;
                const float e20 = w20, e21 = w21 - w20 - w22, e22 = w22;
                const int x0 = 4 * tj;
                r0[x0] += e00;
                r0[x0 + 2] += e01;
                r0[x0 + 4] += e02;
                r1[x0] += e10 - e00 - e20;
                r1[x0 + 2] += e11 - e01 - e21;
                r1[x0 + 4] += e12 - e02 - e22;
                r2[x0] += e20;
                r2[x0 + 2] += e21;
                r2[x0 + 4] += e22;
              }
            }
          }
        float *dst = x + ((long)img * c + ch) * h * w;
        for (int y = 0; y < h; y++) memcpy(dst + (long)y * w, pad + (long)(y + 1) * pw + 1, sizeof(float) * w);
      }
  }
}

/* The 9 products C_i = op(A_i)·op(B_i) + β C_i, side by side: each thread runs single-threaded
   GEMMs on column strips of them, so the threads share the work evenly however small each is.
   oneDNN's sgemm where the addon has it (faster than OpenBLAS's on these shapes). */
static void products(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int kk, const float *a, int lda, long sa, const float *b,
                     int ldb, long sb, float beta, float *c, int ldc, long sc) {
  const int split = omp_get_max_threads(), strip = (n + split - 1) / split;
#pragma omp parallel for schedule(static) collapse(2)
  for (int i = 0; i < 9; i++)
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

static int images_per_chunk(const conv_geometry *g, int k) {
  const long per_image = 9L * (g->out_h / 2) * (g->out_w / 2) * (4L * g->c + k) * (long)sizeof(float);
  const long chunk = WINOGRAD_BUDGET / per_image;
  return chunk < 1 ? 1 : chunk < g->n ? (int)chunk : g->n;
}

int native_winograd_conv(int pass, const conv_geometry *g, int k, const float *input, const float *second, float *output) {
  if (!native_winograd_applies(g) || (pass != DIRECT_CONVOLVE && pass != DIRECT_ADJOINT && pass != DIRECT_WEIGHTS)) return 0;
  const int c = g->c, cp = 4 * c, per_chunk = images_per_chunk(g, k);
  const long tiles_per_image = (long)(g->out_h / 2) * (g->out_w / 2);
  const long kernel_floats = 9L * k * cp, chunk_tiles = per_chunk * tiles_per_image;
  /* U (or P), the chunk's transformed images and column side, and a padded plane per thread. */
  const long pad_floats = (long)omp_get_max_threads() * (g->h + 2) * (g->w + 2);
  float *u = grow_scratch(sizeof(float) * (kernel_floats + 9L * chunk_tiles * (cp + k) + pad_floats));
  if (u == NULL) return 0;
  float *images = u + kernel_floats, *columns = images + 9L * cp * chunk_tiles, *pads = columns + 9L * k * chunk_tiles;
  const long image = (long)c * g->h * g->w, column = (long)k * g->out_h * g->out_w;
  if (pass != DIRECT_WEIGHTS) transform_kernels(second, k, c, u);
  for (int n0 = 0; n0 < g->n; n0 += per_chunk) {
    const int count = g->n - n0 < per_chunk ? g->n - n0 : per_chunk;
    const long t = count * tiles_per_image;
    if (pass == DIRECT_CONVOLVE) {
      transform_images(input + n0 * image, g, count, images, pads);
      products(CblasNoTrans, CblasNoTrans, k, t, cp, u, cp, (long)k * cp, images, t, cp * t, 0.0f, columns, t, (long)k * t);
      untransform_outputs(columns, g, k, count, output + n0 * column);
    } else if (pass == DIRECT_ADJOINT) {
      transform_outputs(input + n0 * column, g, k, count, columns);
      products(CblasTrans, CblasNoTrans, cp, t, k, u, cp, (long)k * cp, columns, t, (long)k * t, 0.0f, images, t, cp * t);
      untransform_images(images, g, count, output + n0 * image, pads);
    } else {
      transform_images(input + n0 * image, g, count, images, pads);
      transform_outputs(second + n0 * column, g, k, count, columns);
      products(CblasNoTrans, CblasTrans, k, cp, t, columns, t, (long)k * t, images, t, cp * t, n0 == 0 ? 0.0f : 1.0f, u, cp, (long)k * cp);
    }
  }
  if (pass == DIRECT_WEIGHTS) untransform_kernels(u, k, c, output);
  return 1;
}
