/*
 * The native backend's kernels: plain C over float arrays, threaded with OpenMP. The GEMMs
 * go to OpenBLAS (built for OpenMP where available, so that its threads and ours are one
 * pool); everything around them (im2col/col2im, batch norm, elementwise, Adam) is ours.
 * Semantics match src/kernels/backend.ts and the js reference kernels exactly.
 */
#ifndef DCGAN_NATIVE_KERNELS_H
#define DCGAN_NATIVE_KERNELS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* For small per-plane bodies the compiler must inline (their loops unroll with constant counts). */
#define INLINE static inline __attribute__((always_inline))

/* scratch.c: working memory shared by the convolution kernels, at least `bytes`, 64-byte aligned
   (NULL when it cannot be had); valid until the next call. */
float *native_scratch(size_t bytes);

/* Floats rounded up to whole 64-byte cache lines: each thread's share of the scratch then starts
   on a line, as thread 0's does (half a line off, the GEMMs on a thread's tiles run measurably
   slower: BENCHMARKS.md, eighteenth session). */
static inline long whole_lines(long floats) { return (floats + 15) / 16 * 16; }

/* Below this many elements a kernel runs on the calling thread: waking the pool costs more. */
#define PARALLEL_MIN_ELEMENTS 32768

typedef struct {
  int trans_a, trans_b, m, n, k, batch;
  float alpha, beta;
  long stride_a, stride_b, stride_c;
} gemm_params;

typedef struct {
  int n, c, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w, out_h, out_w;
} conv_geometry;

void native_gemm(const gemm_params *p, const float *a, const float *b, float *c);
/*
 * A direct convolution (direct_conv.c, through oneDNN where it was found at build time) over the
 * geometry above, weights [k, c, kh, kw], the image [n, c, h, w] and the column side
 * [n, k, out_h, out_w]:
 *   DIRECT_CONVOLVE  input image, second weights → output column side (W·im2col);
 *   DIRECT_ADJOINT   input column side, second weights → output image (col2im(Wᵀ·y));
 *   DIRECT_WEIGHTS   input image, second column side → output weight gradient (y·im2col(x)ᵀ).
 * `layout` is how oneDNN holds the image and column side while it convolves: DIRECT_BLOCKED
 * (its choice: channels in blocks of 8 or 16) or DIRECT_CHANNELS_LAST (NHWC, where it has other
 * kernels, brgconv among them); the caller's tensors are NCHW either way. DIRECT_PHASES computes a
 * strided layer as stride-1 convolutions over the image's phases (blocked layouts; direct_conv.c),
 * DIRECT_PHASES_FORWARD the adjoint's phases as forward convolutions with the flipped kernel.
 * DIRECT_WINOGRAD is ours, without oneDNN: Winograd F(2×2, 2×2) over the phases (winograd.c), for
 * kernel 4, stride 2, padding 1 and an even output side; DIRECT_WINOGRAD4 is F(4×4, 2×2) for an
 * output side that is a multiple of 4 (fewer products, more rounding). DIRECT_IMAGE is ours too: the direct
 * convolution of the same layers where the image side has 1 to 4 channels (image_conv.c).
 * Returns 0, touching nothing, when it cannot do this geometry.
 */
#define DIRECT_CONVOLVE 0
#define DIRECT_ADJOINT 1
#define DIRECT_WEIGHTS 2
#define DIRECT_BLOCKED 0
#define DIRECT_CHANNELS_LAST 1
#define DIRECT_PHASES 2
#define DIRECT_PHASES_FORWARD 3
#define DIRECT_WINOGRAD 4
#define DIRECT_IMAGE 5
#define DIRECT_WINOGRAD4 6
int native_direct_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output);
/* The same with a rectifier fused in (DIRECT_IMAGE only; 0, nothing written, for other layouts): slope 0 is
   ReLU, another LeakyReLU (RECTIFY). DIRECT_CONVOLVE rectifies its output; DIRECT_ADJOINT and
   DIRECT_WEIGHTS take the column side as the gradient at the rectifier's output and pass it back
   through the rectifier first, its derivative read from `activated` (that output; RECTIFIED_GRADIENT). */
int native_direct_conv_rectified(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output,
                                 float slope, const float *activated);
/* The implementation oneDNN chose for this geometry, pass and layout (e.g. "jit:avx512_core"), or NULL. */
const char *native_direct_conv_impl(int pass, int layout, const conv_geometry *g, int k);
/* winograd.c: whether Winograd with output tiles of side 2 (DIRECT_WINOGRAD) or 4 (DIRECT_WINOGRAD4)
   applies to a geometry, and the pass (0 when it does not apply). */
int native_winograd_applies(const conv_geometry *g, int side);
int native_winograd_conv(int pass, int side, const conv_geometry *g, int k, const float *input, const float *second, float *output);
/* image_conv.c: DIRECT_IMAGE, the direct convolution for layers with 1 to 4 image channels (0 when it does not apply). */
int native_image_conv_applies(const conv_geometry *g, int k);
/* slope NaN: no rectifier (else as native_direct_conv_rectified). */
int native_image_conv(int pass, const conv_geometry *g, int k, const float *input, const float *second, float *output, float slope,
                      const float *activated);
/* signals.c: no asynchronous signal on a thread while oneDNN runs there (its JIT GEMM keeps data
   below the stack pointer, where a signal handler's frame would land). hold/release around a
   call that can reach oneDNN, on the calling thread; block_workers once the OpenMP team may
   have grown (at load and at every thread count). */
void native_signals_hold(sigset_t *saved);
void native_signals_release(const sigset_t *saved);
void native_signals_block_workers(void);
/* "oneDNN x.y.z", or NULL when the addon was built without it. */
const char *native_direct_conv_library(void);

void native_im2col(const float *x, const conv_geometry *g, float *cols);
void native_col2im(const float *cols, const conv_geometry *g, float *x);
/* col2im(Wᵀ·y) into x, image by image (W [k, c·kh·kw], y [n, k, out_h, out_w]); 0 when the column side has under 64
   positions (nothing written) or a buffer could not be had (x then partly written). */
int native_adjoint_by_images(const float *w, const float *y, const conv_geometry *g, int k, float *x);

/* Operation codes: generated from src/kernels/op-codes.ts. */
#include "op_codes.h"

/* A rectifier by its slope, as native_unary's U_RELU (slope 0: x <= 0 ? 0 : x, so -0 and NaN as
   there) and U_LEAKY_RELU; and the gradient d at its output y passed back through it, as
   native_unary_backward's (fused into BatchNorm and the image convolutions). */
#define RECTIFY(v, slope) ((slope) == 0 ? ((v) <= 0 ? 0 : (v)) : ((v) > 0 ? (v) : (slope) * (v)))
#define RECTIFIED_GRADIENT(y, d, slope) ((slope) == 0 ? ((y) <= 0 ? 0 : (d)) : ((y) > 0 ? (d) : (slope) * (d)))

int native_unary(int op, const float *x, float *out, long n, float alpha);
int native_unary_backward(int op, const float *x, const float *y, const float *dy, float *dx, long n, float alpha);
/* b_scalar: b has one element, broadcast over a. */
int native_binary(int op, const float *a, const float *b, float *out, long n, int b_scalar);
int native_scalar(int op, const float *x, float s, float *out, long n);
void native_swap_leading(const float *x, int a, int b, long rest, float *out);
void native_channel_sum(const float *x, int n, int c, long hw, float *out);
void native_add_channel_bias(float *y, int n, int c, long hw, const float *bias);

/* Σ over images and positions of channel ch of x [n, c, hw], in double (vector lanes may reorder). */
static inline double channel_total(const float *x, int n, int c, long hw, int ch) {
  double s = 0;
  for (int img = 0; img < n; img++) {
    const float *p = x + ((long)img * c + ch) * hw;
#pragma omp simd reduction(+ : s)
    for (long i = 0; i < hw; i++) s += p[i];
  }
  return s;
}

void native_batch_norm_stats(const float *x, int n, int c, long hw, float *mean, float *variance);
/* rectifier_slope: NaN for none, 0 for a ReLU, > 0 for a LeakyReLU applied in the same pass. */
void native_batch_norm_apply(const float *x, int n, int c, long hw, const float *mean, const float *inv_std,
                             const float *gamma, const float *beta, float *y, float rectifier_slope);
/* slope as above (NaN: no rectifier): its derivative, at the value the apply computed (computed again from x with
   beta), multiplies dy first. */
void native_batch_norm_backward(const float *x, const float *dy, int n, int c, long hw, const float *mean,
                                const float *inv_std, const float *gamma, int batch_stats, float *dx,
                                float *dgamma, float *dbeta, const float *beta, float slope);

typedef struct {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  double eps, weight_decay, step_size, bias_correction2_sqrt;
} adam_hyper;

void native_adam_update(float *param, const float *grad, float *m, float *v, long n, const adam_hyper *h);

/* random.c: n normal samples mean + std·z, bitwise those of the js Generator from `state` (its four
   xoshiro128** words), which advances as the Generator's would. */
void native_fill_normal(uint32_t state[4], float *out, long n, double mean, double std);

/* GFLOP/s of `threads` threads of independent FMA chains (peak.c); returns 0 when `isa` is not supported. */
int native_fma_peak(int threads, double seconds, int trials, const char *isa, const char **isa_name, double *gflops,
                    double *wall_gflops);

#endif
