/* PyTorch 1.13's single-tensor Adam, rounding to float where its tensor ops do (as the js reference). */
#include <math.h>

#include "kernels.h"

void native_adam_update(float *param, const float *grad, float *m, float *v, long n, const adam_hyper *h) {
  const float b1 = h->beta1, b2 = h->beta2, a1 = h->one_minus_beta1, a2 = h->one_minus_beta2;
  const double wd = h->weight_decay, eps = h->eps, step_size = h->step_size, bc2 = h->bias_correction2_sqrt;
  /* `if (parallel : …)`, not a bare if, which would also govern the simd part: see elementwise.c's PAR. */
#pragma omp parallel for simd schedule(static) if (parallel : n >= PARALLEL_MIN_ELEMENTS)
  for (long i = 0; i < n; i++) {
    const float g = wd != 0 ? grad[i] + (float)(wd * param[i]) : grad[i];
    const float mi = m[i] * b1 + a1 * g;
    const float vi = v[i] * b2 + a2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    const float denom = (float)((double)(float)(sqrtf(vi) / bc2) + eps);
    param[i] = param[i] - (float)(step_size * (mi / denom));
  }
}
