/*
 * im2col and its adjoint col2im with the batch merged into the columns:
 * cols[(ch·kh + ky)·kw + kx][img·outH·outW + oy·outW + ox] = x[img, ch, oy·sh − ph + ky, ox·sw − pw + kx].
 * im2col splits over rows of cols (each task writes one contiguous run: streaming writes),
 * col2im over image planes (img, ch), so threads never write the same memory.
 *
 * A strided transposed convolution (DCGAN's are all stride 2) makes a naive col2im scatter
 * with a stride, which does not vectorise. col2im therefore sums into an image row split into
 * its sw phases (x[iy][b·sw + p] → phase p, index b): a column row maps to a *contiguous*,
 * shifted run of one phase, and each image row is written once (no zero-fill, no scattered adds).
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"

/* Rows wider than this (in floats, all phases) fall back to a plain loop: the phases live on the stack. */
#define MAX_PHASE_FLOATS 8192

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

/* Input column ox·s + t with t = kx − pad lies in phase p = t mod s at index ox + shift. */
static void phase_of(int kx, int stride, int pad, int *p, int *shift) {
  const int t = kx - pad;
  int q = t >= 0 ? t / stride : -((-t + stride - 1) / stride); /* floor(t / stride) */
  *shift = q;
  *p = t - q * stride;
}

/* Phase stride: room for one row's phase plus the widest shift either side. */
static int phase_len(const conv_geometry *g) {
  return (g->w + g->stride_w - 1) / g->stride_w + 1;
}

/*
 * A kernel that covers the whole unpadded image (DCGAN's last D layer, 4×4 → 1×1) makes
 * row (ch, ky, kx) of cols the flat image index itself: im2col is then the transpose
 * [n, c·h·w] → [c·h·w, n] and col2im its inverse. Done in tiles, not one gathered float at a time.
 */
static int whole_image(const conv_geometry *g) {
  return g->out_h == 1 && g->out_w == 1 && g->pad_h == 0 && g->pad_w == 0 && g->kh == g->h && g->kw == g->w;
}

#define TILE 32

static void transpose(const float *src, long rows, long cols, float *dst) {
  const long tiles_r = (rows + TILE - 1) / TILE, tiles_c = (cols + TILE - 1) / TILE;
#pragma omp parallel for collapse(2) schedule(static) if (rows * cols >= PARALLEL_MIN_ELEMENTS)
  for (long tr = 0; tr < tiles_r; tr++) {
    for (long tc = 0; tc < tiles_c; tc++) {
      const long r1 = (tr + 1) * TILE < rows ? (tr + 1) * TILE : rows;
      const long c1 = (tc + 1) * TILE < cols ? (tc + 1) * TILE : cols;
      for (long c = tc * TILE; c < c1; c++) {
        for (long r = tr * TILE; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

/*
 * Small outputs (DCGAN's deep layers are 4×4 and 8×8) make the row loops above a few values
 * long, so loop overhead dominates. There each tap (ky, kx) gets a table: for every output
 * position, the image offset it reads (or −1 in the padding), built once per call; the
 * kernels then run flat loops over it. Contributions are summed in the same (ky, kx) order.
 */
#define TABLE_MAX_PLANE 64

/* table[tap·plane + p] = iy·w + ix for output position p of kernel tap (ky, kx), or −1. */
static void build_tables(const conv_geometry *g, int *table) {
  const long plane = (long)g->out_h * g->out_w;
  for (int ky = 0; ky < g->kh; ky++) {
    for (int kx = 0; kx < g->kw; kx++) {
      int *t = table + ((long)ky * g->kw + kx) * plane;
      for (int oy = 0; oy < g->out_h; oy++) {
        const int iy = oy * g->stride_h - g->pad_h + ky;
        for (int ox = 0; ox < g->out_w; ox++) {
          const int ix = ox * g->stride_w - g->pad_w + kx;
          t[oy * g->out_w + ox] = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? iy * g->w + ix : -1;
        }
      }
    }
  }
}

/* Tables with −1 (padding) mapped to one slot past the image: there a copy of the image plane
   holds a 0, so the inner loops are plain gathers and scatters, without a branch per value. */
static void build_padded_tables(const conv_geometry *g, int *table) {
  build_tables(g, table);
  const long n = (long)g->kh * g->kw * g->out_h * g->out_w, pad_slot = (long)g->h * g->w;
  for (long i = 0; i < n; i++)
    if (table[i] < 0) table[i] = (int)pad_slot;
}

static void im2col_tables(const float *x, const conv_geometry *g, float *cols) {
  const long plane = (long)g->out_h * g->out_w;
  const long taps = (long)g->kh * g->kw;
  const long width = g->n * plane;
  const long image = (long)g->c * g->h * g->w;
  const long hw = (long)g->h * g->w;
  const long total = g->c * taps * width;
  int table[taps * plane];
  build_padded_tables(g, table);
  /* Per (channel, image): its plane and a 0 after it (a buffer per thread: the plane may be
     large), then every tap's run of that image's columns. */
#pragma omp parallel if (total >= PARALLEL_MIN_ELEMENTS)
  {
    float *src = malloc(sizeof(float) * (size_t)(hw + 1));
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < g->c; ch++) {
      for (int img = 0; img < g->n; img++) {
        const float *in = x + img * image + (long)ch * hw;
        if (src != NULL) {
          memcpy(src, in, sizeof(float) * hw);
          src[hw] = 0.0f;
        }
        for (long tap = 0; tap < taps; tap++) {
          const int *t = table + tap * plane;
          float *dst = cols + (ch * taps + tap) * width + img * plane;
          if (src != NULL) {
            for (long p = 0; p < plane; p++) dst[p] = src[t[p]];
          } else {
            for (long p = 0; p < plane; p++) dst[p] = t[p] < hw ? in[t[p]] : 0.0f; /* no buffer: one branch per value */
          }
        }
      }
    }
    free(src);
  }
}

static void col2im_tables(const float *cols, const conv_geometry *g, float *x) {
  const long plane = (long)g->out_h * g->out_w;
  const long taps = (long)g->kh * g->kw;
  const long width = g->n * plane;
  const long image = (long)g->h * g->w;
  const long total = g->c * taps * width;
  int table[taps * plane];
  build_padded_tables(g, table);
#pragma omp parallel if (total >= PARALLEL_MIN_ELEMENTS)
  {
    /* Each plane is summed in a buffer with one spare slot (the padding's, dropped), then copied out. */
    float *sum = malloc(sizeof(float) * (size_t)(image + 1));
#pragma omp for collapse(2) schedule(static)
    for (int ch = 0; ch < g->c; ch++) {
      for (int img = 0; img < g->n; img++) {
        float *out = x + ((long)img * g->c + ch) * image;
        float *acc = sum != NULL ? sum : out;
        for (long i = 0; i < image; i++) acc[i] = 0;
        if (sum != NULL) sum[image] = 0;
        for (long tap = 0; tap < taps; tap++) {
          const int *t = table + tap * plane;
          const float *src = cols + (ch * taps + tap) * width + img * plane;
          if (sum != NULL) {
            for (long p = 0; p < plane; p++) sum[t[p]] += src[p];
          } else {
            for (long p = 0; p < plane; p++) /* no buffer: one branch per value */
              if (t[p] < image) out[t[p]] += src[p];
          }
        }
        if (sum != NULL) memcpy(out, sum, sizeof(float) * image);
      }
    }
    free(sum);
  }
}

void native_im2col(const float *x, const conv_geometry *g, float *cols) {
  if (whole_image(g)) {
    transpose(x, g->n, (long)g->c * g->h * g->w, cols);
    return;
  }
  if ((long)g->out_h * g->out_w <= TABLE_MAX_PLANE) {
    im2col_tables(x, g, cols);
    return;
  }
  const int rows = g->c * g->kh * g->kw;
  const long plane = (long)g->out_h * g->out_w;
  const long width = g->n * plane;
  const long image = (long)g->c * g->h * g->w;
  const long total = (long)rows * width;
  /* One task per row of cols: it writes one contiguous run of n·outH·outW values. */
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int row = 0; row < rows; row++) {
    const int ch = row / (g->kh * g->kw);
    const int ky = (row / g->kw) % g->kh;
    const int kx = row % g->kw;
    int lo, hi;
    inside(kx, g->stride_w, g->pad_w, g->w, g->out_w, &lo, &hi);
    const int s = g->stride_w;
    for (int img = 0; img < g->n; img++) {
      const float *src_plane = x + img * image + (long)ch * g->h * g->w;
      float *dst_plane = cols + row * width + img * plane;
      for (int oy = 0; oy < g->out_h; oy++) {
        float *dst = dst_plane + (long)oy * g->out_w;
        const int iy = oy * g->stride_h - g->pad_h + ky;
        if (iy < 0 || iy >= g->h) {
          for (int ox = 0; ox < g->out_w; ox++) dst[ox] = 0;
          continue;
        }
        const float *src = src_plane + (long)iy * g->w - g->pad_w + kx;
        /* Plain loops: runs are short (4–32 in DCGAN), library calls would dominate. */
        for (int ox = 0; ox < lo; ox++) dst[ox] = 0;
        if (s == 1) {
          for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox];
        } else {
          for (int ox = lo; ox < hi; ox++) dst[ox] = src[(long)ox * s];
        }
        for (int ox = hi; ox < g->out_w; ox++) dst[ox] = 0;
      }
    }
  }
}

static void col2im_plane(const float *cols, const conv_geometry *g, long width, long col0, float *dst_plane, float *acc) {
  const int sw = g->stride_w, len = phase_len(g);
  for (int iy = 0; iy < g->h; iy++) {
    for (int i = 0; i < sw * len; i++) acc[i] = 0;
    /* The kernel rows ky that reach image row iy: iy = oy·sh − ph + ky for an integer oy in range. */
    for (int ky = 0; ky < g->kh; ky++) {
      const int t = iy + g->pad_h - ky;
      if (t < 0 || t % g->stride_h != 0) continue;
      const int oy = t / g->stride_h;
      if (oy >= g->out_h) continue;
      for (int kx = 0; kx < g->kw; kx++) {
        const float *src = cols + ((long)ky * g->kw + kx) * width + col0 + (long)oy * g->out_w;
        int lo, hi, p, shift;
        inside(kx, sw, g->pad_w, g->w, g->out_w, &lo, &hi);
        phase_of(kx, sw, g->pad_w, &p, &shift);
        float *run = acc + (long)p * len + shift;
        for (int ox = lo; ox < hi; ox++) run[ox] += src[ox];
      }
    }
    float *dst = dst_plane + (long)iy * g->w;
    if (sw == 1) {
      for (int ix = 0; ix < g->w; ix++) dst[ix] = acc[ix];
    } else if (sw == 2) {
      const float *even = acc, *odd = acc + len;
      const int pairs = g->w / 2;
      for (int b = 0; b < pairs; b++) {
        dst[2 * b] = even[b];
        dst[2 * b + 1] = odd[b];
      }
      if (g->w % 2) dst[g->w - 1] = even[pairs];
    } else {
      for (int ix = 0; ix < g->w; ix++) dst[ix] = acc[(ix % sw) * len + ix / sw];
    }
  }
}

void native_col2im(const float *cols, const conv_geometry *g, float *x) {
  if (whole_image(g)) {
    transpose(cols, (long)g->c * g->h * g->w, g->n, x);
    return;
  }
  if ((long)g->out_h * g->out_w <= TABLE_MAX_PLANE) {
    col2im_tables(cols, g, x);
    return;
  }
  const long plane = (long)g->out_h * g->out_w;
  const long width = g->n * plane;
  const long image = (long)g->h * g->w;
  const long taps = (long)g->kh * g->kw;
  const long total = g->c * taps * width;
  const int len = phase_len(g);
  const int phased = (long)g->stride_w * len <= MAX_PHASE_FLOATS;
#pragma omp parallel if (total >= PARALLEL_MIN_ELEMENTS)
  {
    float acc[phased ? g->stride_w * len : 1];
#pragma omp for collapse(2) schedule(static)
    /* Channel-major: consecutive tasks read the next run of the same column rows (sequential streams). */
    for (int ch = 0; ch < g->c; ch++) {
      for (int img = 0; img < g->n; img++) {
        float *dst_plane = x + ((long)img * g->c + ch) * image;
        const float *rows = cols + ch * taps * width;
        if (phased) {
          col2im_plane(rows, g, width, img * plane, dst_plane, acc);
          continue;
        }
        memset(dst_plane, 0, sizeof(float) * image);
        for (long tap = 0; tap < taps; tap++) {
          const int ky = (int)(tap / g->kw), kx = (int)(tap % g->kw);
          const float *src_plane = rows + tap * width + img * plane;
          for (int oy = 0; oy < g->out_h; oy++) {
            const int iy = oy * g->stride_h - g->pad_h + ky;
            if (iy < 0 || iy >= g->h) continue;
            for (int ox = 0; ox < g->out_w; ox++) {
              const int ix = ox * g->stride_w - g->pad_w + kx;
              if (ix >= 0 && ix < g->w) dst_plane[(long)iy * g->w + ix] += src_plane[(long)oy * g->out_w + ox];
            }
          }
        }
      }
    }
  }
}

#define BY_IMAGES_MIN_PLANE 64

/*
 * col2im(Wᵀ·y) an image at a time: each thread makes one image's columns in a buffer of its own,
 * which stays in cache while col2im adds them up, so the batch's columns (and y's channel-major
 * copy) are never made. OpenBLAS runs single-threaded inside the parallel region.
 */
int native_adjoint_by_images(const float *w, const float *y, const conv_geometry *g, int k, float *x) {
  const long rows = (long)g->c * g->kh * g->kw, plane = (long)g->out_h * g->out_w, image = (long)g->c * g->h * g->w;
  /* An image's product is `plane` columns wide: narrower than this, OpenBLAS's kernels run far below
     their speed on it (D's 8×8 → 4×4 layer: twice the batched GEMM's time), so the caller batches. */
  if (plane < BY_IMAGES_MIN_PLANE) return 0;
  conv_geometry one = *g;
  one.n = 1;
  int failed = 0;
#pragma omp parallel
  {
    float *cols = malloc(sizeof(float) * (size_t)(rows * plane));
    if (cols == NULL) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int n = 0; n < g->n; n++) {
      if (cols == NULL) continue;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)plane, k, 1.0f, w, (int)rows, y + n * (long)k * plane, (int)plane, 0.0f, cols,
                  (int)plane);
      native_col2im(cols, &one, x + n * image);
    }
    free(cols);
  }
  return !failed;
}
