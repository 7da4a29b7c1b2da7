/*
 * Vectorisable float exp, tanh and sigmoid for the elementwise kernels. glibc's tanhf and expf
 * are scalar calls, which keep `omp simd` loops scalar (tanh on 4M floats took 52 ms on one
 * core here, against ~2.5 ms for the loops around it). These are straight-line float
 * arithmetic — no calls, no tables, branches only as selects — so the loops vectorise at the
 * width the build targets (-march, scripts/build-native.mjs). With -ffp-contract=off nothing is
 * fused, so every vector width (and a scalar tail) gives the same bits.
 *
 * Error against the double-precision reference (Math.tanh, and the two-form sigmoid of
 * src/kernels/js/elementwise.ts), in ulps of the reference's binade (2^-149 among subnormals):
 *   tanh ≤ 1.5 ulp (1.33 at worst), sigmoid ≤ 2.5 ulp (2.40 at worst)
 * — the worst cases from a sweep over every float input (tanh: |x| ≤ 10, sigmoid: -105 ≤ x ≤ 18;
 * past those both are saturated by construction); glibc's tanhf is within 1 ulp (PyTorch's
 * Sleef tanh 1.0). Both saturate exactly (±1, 0, 1) wherever the reference rounded to float
 * does, stay within [-1, 1] / [0, 1], keep the sign of zero (tanh) and pass NaN through;
 * test/vector-math.test.ts checks all of this on a fine sweep, through this backend and through the
 * wasm one, which has the same arithmetic (src/kernels/wasm/assembly/elementwise.ts) and gives the same bits.
 */
#ifndef DCGAN_NATIVE_VMATH_H
#define DCGAN_NATIVE_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float vm_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint32_t vm_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/*
 * c ? a : b on the bits, both sides computed. From a plain ?: GCC moves one side's work into
 * a branch (or folds it to a constant on the other side), and will not then compute it
 * unconditionally, since a float operation might trap: the branch keeps the loop scalar
 * without AVX-512's masks.
 */
static inline float vm_select(int c, float a, float b) {
  const uint32_t m = -(uint32_t)(c != 0);
  return vm_from_bits((vm_to_bits(a) & m) | (vm_to_bits(b) & ~m));
}

/* 2^k for k in [-126, 127]. */
static inline float vm_pow2i(int32_t k) { return vm_from_bits((uint32_t)(k + 127) << 23); }

/*
 * e^x for x in [-104.5, 88] (callers clamp; NaN gives NaN). Cephes' expf: x = n·ln2 + r with
 * |r| ≤ ln2/2 (ln2 in two parts, so r is exact to ~2^-33), a degree-7 polynomial for e^r, then
 * the scaling by 2^n in two halves so that a subnormal result is rounded once, correctly.
 */
static inline float vm_exp(float x) {
  /* Adding 1.5·2^23 rounds to an integer, which lands in the low mantissa bits. */
  const float shifter = 12582912.0f;
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const int32_t k = (int32_t)(vm_to_bits(t) - vm_to_bits(shifter));
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  const float p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                    1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
  const int32_t k1 = k >> 1;
  return p * vm_pow2i(k1) * vm_pow2i(k - k1);
}

/*
 * tanh: below |x| = 0.625 Cephes' odd polynomial x + x³·P(x²); above, 1 − 2/(e^{2|x|} + 1),
 * which has no cancellation there (the result is ≥ 0.55). |x| is clamped to 9.5, past which
 * float tanh is 1 (2/(e^19 + 1) is below half an ulp of 1), so e^{2|x|} stays finite.
 */
static inline float vm_tanh(float x) {
  const float ax = fabsf(x);
  const float z = ax * ax;
  const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                       3.33332819422e-1f) * z * ax + ax;
  const float c = vm_select(ax > 9.5f, 9.5f, ax); /* NaN stays NaN */
  const float large = 1.0f - 2.0f / (vm_exp(c + c) + 1.0f);
  return copysignf(vm_select(ax < 0.625f, small, large), x);
}

/*
 * sigmoid: with e = e^{-|x|} ∈ (0, 1] (so nothing overflows, as the reference's two forms),
 * 1/(1 + e) for x ≥ 0 and e/(1 + e) below. |x| is clamped to 104.5, past which e rounds to 0.
 */
static inline float vm_sigmoid(float x) {
  const float ax = fabsf(x);
  const float c = vm_select(ax > 104.5f, 104.5f, ax); /* NaN stays NaN */
  const float e = vm_exp(-c);
  return vm_select(x >= 0, 1.0f, e) / (1.0f + e);
}

#endif
