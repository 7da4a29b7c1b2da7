/* Elementwise kernels and the small layout kernels of the conv lowering. Return 0 for an unknown op code. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

/* The if clause names `parallel`: unqualified, OpenMP applies it to the simd part too, and GCC
   then compiles a loop (Adam's, in optim.c) to run at scalar speed (BENCHMARKS.md, tenth session). */
#define PAR _Pragma("omp parallel for simd schedule(static) if (parallel : n >= PARALLEL_MIN_ELEMENTS)")

int native_unary(int op, const float *x, float *out, long n, float alpha) {
  switch (op) {
    /* As PyTorch: NaN passes through (x <= 0 is false for it). tanh and sigmoid: vmath.h (vectorised, ≤ 1.5 and 2.5 ulp). */
    case U_RELU: PAR for (long i = 0; i < n; i++) out[i] = x[i] <= 0 ? 0 : x[i]; return 1;
    case U_LEAKY_RELU: PAR for (long i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : alpha * x[i]; return 1;
    case U_TANH: PAR for (long i = 0; i < n; i++) out[i] = vm_tanh(x[i]); return 1;
    case U_SIGMOID: PAR for (long i = 0; i < n; i++) out[i] = vm_sigmoid(x[i]); return 1;
    case U_NEG: PAR for (long i = 0; i < n; i++) out[i] = -x[i]; return 1;
    case U_EXP: PAR for (long i = 0; i < n; i++) out[i] = expf(x[i]); return 1;
    case U_LOG: PAR for (long i = 0; i < n; i++) out[i] = logf(x[i]); return 1;
    case U_ABS: PAR for (long i = 0; i < n; i++) out[i] = fabsf(x[i]); return 1;
    case U_SQRT: PAR for (long i = 0; i < n; i++) out[i] = sqrtf(x[i]); return 1;
    case U_SQUARE: PAR for (long i = 0; i < n; i++) out[i] = x[i] * x[i]; return 1;
    default: return 0;
  }
}

int native_unary_backward(int op, const float *x, const float *y, const float *dy, float *dx, long n, float alpha) {
  switch (op) {
    case U_RELU: PAR for (long i = 0; i < n; i++) dx[i] = x[i] <= 0 ? 0 : dy[i]; return 1;
    case U_LEAKY_RELU: PAR for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i]; return 1;
    case U_TANH: PAR for (long i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]); return 1;
    case U_SIGMOID: PAR for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]); return 1;
    case U_NEG: PAR for (long i = 0; i < n; i++) dx[i] = -dy[i]; return 1;
    case U_EXP: PAR for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i]; return 1;
    case U_LOG: PAR for (long i = 0; i < n; i++) dx[i] = dy[i] / x[i]; return 1;
    case U_ABS: PAR for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : x[i] < 0 ? -dy[i] : 0; return 1;
    case U_SQRT: PAR for (long i = 0; i < n; i++) dx[i] = dy[i] / (2 * y[i]); return 1;
    case U_SQUARE: PAR for (long i = 0; i < n; i++) dx[i] = 2 * x[i] * dy[i]; return 1;
    default: return 0;
  }
}

int native_binary(int op, const float *a, const float *b, float *out, long n, int b_scalar) {
  if (b_scalar) {
    const float s = b[0];
    switch (op) {
      case B_ADD: PAR for (long i = 0; i < n; i++) out[i] = a[i] + s; return 1;
      case B_SUB: PAR for (long i = 0; i < n; i++) out[i] = a[i] - s; return 1;
      case B_MUL: PAR for (long i = 0; i < n; i++) out[i] = a[i] * s; return 1;
      case B_DIV: PAR for (long i = 0; i < n; i++) out[i] = a[i] / s; return 1;
      default: return 0;
    }
  }
  switch (op) {
    case B_ADD: PAR for (long i = 0; i < n; i++) out[i] = a[i] + b[i]; return 1;
    case B_SUB: PAR for (long i = 0; i < n; i++) out[i] = a[i] - b[i]; return 1;
    case B_MUL: PAR for (long i = 0; i < n; i++) out[i] = a[i] * b[i]; return 1;
    case B_DIV: PAR for (long i = 0; i < n; i++) out[i] = a[i] / b[i]; return 1;
    default: return 0;
  }
}

int native_scalar(int op, const float *x, float s, float *out, long n) {
  switch (op) {
    case S_ADD: PAR for (long i = 0; i < n; i++) out[i] = x[i] + s; return 1;
    case S_SUB: PAR for (long i = 0; i < n; i++) out[i] = x[i] - s; return 1;
    case S_RSUB: PAR for (long i = 0; i < n; i++) out[i] = s - x[i]; return 1;
    case S_MUL: PAR for (long i = 0; i < n; i++) out[i] = x[i] * s; return 1;
    case S_DIV: PAR for (long i = 0; i < n; i++) out[i] = x[i] / s; return 1;
    case S_RDIV: PAR for (long i = 0; i < n; i++) out[i] = s / x[i]; return 1;
    default: return 0;
  }
}

/* [a, b, rest] → [b, a, rest]: NCHW ↔ CNHW around the conv GEMMs. */
void native_swap_leading(const float *x, int a, int b, long rest, float *out) {
  const long n = (long)a * b * rest;
#pragma omp parallel for collapse(2) schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
  for (int i = 0; i < a; i++) {
    for (int j = 0; j < b; j++) memcpy(out + ((long)j * a + i) * rest, x + ((long)i * b + j) * rest, sizeof(float) * rest);
  }
}

/* Per-channel sums of x [n, c, hw], accumulated in double as the reference. */
void native_channel_sum(const float *x, int n, int c, long hw, float *out) {
  const long total = (long)n * c * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (int ch = 0; ch < c; ch++) out[ch] = (float)channel_total(x, n, c, hw, ch);
}

void native_add_channel_bias(float *y, int n, int c, long hw, const float *bias) {
  const long total = (long)n * c * hw;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN_ELEMENTS)
  for (long r = 0; r < (long)n * c; r++) {
    const float v = bias[r % c];
    float *p = y + r * hw;
    for (long i = 0; i < hw; i++) p[i] += v;
  }
}
