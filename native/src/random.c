/*
 * Normal samples exactly as the js Generator draws them (src/tensor/random.ts): xoshiro128**,
 * then Box–Muller with its log and cosine series. Every operation is an IEEE one done in the same
 * order in double (no contraction into FMA: binding.gyp), so the numbers are bitwise the same.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

/* detLog for x in (0, 1]: x is a multiple of 2⁻²⁴ there, never subnormal. */
static inline double series_log(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = (int)((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* the mantissa in [1, 2) */
  double m;
  memcpy(&m, &bits, sizeof m);
  const int above = m > 1.4142135623730951;
  m = above ? m * 0.5 : m;
  e += above;
  const double s = (m - 1) / (m + 1), s2 = s * s;
  double term = s, sum = 0;
  for (int k = 1; k <= 21; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return e * 0.6931471805599453 + 2 * sum;
}

static inline double cos_series(double a2) {
  double sum = 0, term = 1;
  for (int k = 0; k <= 10; k++) {
    sum += term;
    term *= -a2 / ((2 * k + 1) * (2 * k + 2));
  }
  return sum;
}

static inline double sin_series(double a, double a2) {
  double sum = 0, term = a;
  for (int k = 0; k <= 10; k++) {
    sum += term;
    term *= -a2 / ((2 * k + 2) * (2 * k + 3));
  }
  return sum;
}

/* detCos2Pi: the series of the angle within u's quarter turn. */
static inline double series_cos_2pi(double u) {
  const double q4 = u * 4, whole = floor(q4);
  const int quadrant = (int)whole & 3;
  const double a = (q4 - whole) * 1.5707963267948966, a2 = a * a;
  switch (quadrant) {
    case 0:
      return cos_series(a2);
    case 1:
      return -sin_series(a, a2);
    case 2:
      return -cos_series(a2);
    default:
      return sin_series(a, a2);
  }
}

/* Generator.nextFloat: 24 random bits, so each value is exactly a float. */
static inline double unit(uint32_t word) { return (double)(word >> 8) * 5.960464477539063e-8; }

void native_fill_normal(uint32_t state[4], float *out, long n, double mean, double std) {
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (long i = 0; i < n; i++) {
    uint32_t words[2];
    for (int w = 0; w < 2; w++) {
      words[w] = rotl32(s1 * 5, 7) * 9;
      const uint32_t t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl32(s3, 11);
    }
    const double u1 = 1 - unit(words[0]), u2 = unit(words[1]);
    out[i] = (float)(mean + std * (sqrt(-2 * series_log(u1)) * series_cos_2pi(u2)));
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}
