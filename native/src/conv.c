/*
 * im2col and its adjoint col2im with the batch merged into the columns:
 * cols[(ch·kh + ky)·kw + kx][img·outH·outW + oy·outW + ox] = x[img, ch, oy·sh − ph + ky, ox·sw − pw + kx].
 * im2col splits over rows of cols (each writes its own), col2im over image planes (each
 * thread sums into its own planes), so neither needs atomics.
 */
#include <string.h>

#include "kernels.h"

/* The output columns ox whose input column ox·s − p + kx lies inside [0, w): [*lo, *hi). */
static void inside(int kx, int stride, int pad, int w, int out_w, int *lo, int *hi) {
  int first = pad - kx; /* smallest ox·stride allowed */
  int a = first <= 0 ? 0 : (first + stride - 1) / stride;
  int last = w - 1 + pad - kx; /* largest ox·stride allowed */
  int b = last < 0 ? 0 : last / stride + 1;
  if (b > out_w) b = out_w;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

void native_im2col(const float *x, const conv_geometry *g, float *cols) {
  const int rows = g->c * g->kh * g->kw;
  const long plane = (long)g->out_h * g->out_w;
  const long width = g->n * plane;
  const long total = (long)rows * width;
#pragma omp parallel for collapse(2) schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int row = 0; row < rows; row++) {
    for (int img = 0; img < g->n; img++) {
      const int ch = row / (g->kh * g->kw);
      const int ky = (row / g->kw) % g->kh;
      const int kx = row % g->kw;
      int lo, hi;
      inside(kx, g->stride_w, g->pad_w, g->w, g->out_w, &lo, &hi);
      const float *src_plane = x + ((long)img * g->c + ch) * g->h * g->w;
      float *dst_plane = cols + row * width + img * plane;
      for (int oy = 0; oy < g->out_h; oy++) {
        float *dst = dst_plane + (long)oy * g->out_w;
        const int iy = oy * g->stride_h - g->pad_h + ky;
        if (iy < 0 || iy >= g->h) {
          memset(dst, 0, sizeof(float) * g->out_w);
          continue;
        }
        const float *src = src_plane + (long)iy * g->w - g->pad_w + kx;
        for (int ox = 0; ox < lo; ox++) dst[ox] = 0;
        if (g->stride_w == 1) {
          memcpy(dst + lo, src + lo, sizeof(float) * (hi - lo));
        } else {
          const int s = g->stride_w;
          for (int ox = lo; ox < hi; ox++) dst[ox] = src[(long)ox * s];
        }
        for (int ox = hi; ox < g->out_w; ox++) dst[ox] = 0;
      }
    }
  }
}

void native_col2im(const float *cols, const conv_geometry *g, float *x) {
  const long plane = (long)g->out_h * g->out_w;
  const long width = g->n * plane;
  const long image = (long)g->h * g->w;
  const long total = (long)g->c * g->kh * g->kw * width;
#pragma omp parallel for collapse(2) schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int img = 0; img < g->n; img++) {
    for (int ch = 0; ch < g->c; ch++) {
      float *dst_plane = x + ((long)img * g->c + ch) * image;
      memset(dst_plane, 0, sizeof(float) * image);
      for (int ky = 0; ky < g->kh; ky++) {
        for (int kx = 0; kx < g->kw; kx++) {
          const long row = ((long)ch * g->kh + ky) * g->kw + kx;
          const float *src_plane = cols + row * width + img * plane;
          int lo, hi;
          inside(kx, g->stride_w, g->pad_w, g->w, g->out_w, &lo, &hi);
          for (int oy = 0; oy < g->out_h; oy++) {
            const int iy = oy * g->stride_h - g->pad_h + ky;
            if (iy < 0 || iy >= g->h) continue;
            const float *src = src_plane + (long)oy * g->out_w;
            float *dst = dst_plane + (long)iy * g->w - g->pad_w + kx;
            if (g->stride_w == 1) {
              for (int ox = lo; ox < hi; ox++) dst[ox] += src[ox];
            } else {
              const int s = g->stride_w;
              for (int ox = lo; ox < hi; ox++) dst[(long)ox * s] += src[ox];
            }
          }
        }
      }
    }
  }
}
