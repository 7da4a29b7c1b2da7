/*
 * The machine's single-precision FMA peak, measured (bench/run.ts reports the training step's
 * rate as a fraction of it). Each thread runs CHAINS independent chains acc = acc·m + c of
 * vector FMAs at the widest width the CPU has. A chain waits for its previous FMA, but the
 * chains do not wait for each other, and 12 of them cover the FMAs in flight that the units
 * need to issue every cycle (latency × FMAs per cycle: 4 × 2 on Zen 4 and Skylake-X, 5 × 2 on
 * Zen 2): that is the peak — no loads, no stores, nothing in the loop but the FMAs and the
 * counter. The values converge to c/(1 − m) = 1: nothing overflows or goes subnormal.
 *
 * The width is chosen at run time (__builtin_cpu_supports; each loop compiled for its ISA with
 * a target attribute), so the addon runs on any x86-64 whatever -march it was built with.
 * 2 flops per FMA lane. "fma128" is FMA on 128-bit vectors: the widest WebAssembly SIMD has
 * (relaxed SIMD's madd becomes this instruction), so the wasm backend's ceiling. SSE has no FMA:
 * a multiply and an add per lane, whose longer chain latency 12 chains do not quite cover (a
 * fallback for CPUs without FMA, a little under its peak).
 */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#define CHAINS 12

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keeps the chains' results alive. */
static volatile float sink;

#define CHAIN_LOOP(type, set1, fma, add, first)                                    \
  type acc[CHAINS];                                                                \
  const type m = set1(0.999f), c = set1(0.001f);                                   \
  for (int j = 0; j < CHAINS; j++) acc[j] = set1(1.0f + 0.0001f * (float)j);       \
  for (long i = 0; i < iters; i++) {                                               \
    _Pragma("GCC unroll 12") for (int j = 0; j < CHAINS; j++) acc[j] = fma(acc[j], m, c); \
  }                                                                                \
  type total = acc[0];                                                             \
  for (int j = 1; j < CHAINS; j++) total = add(total, acc[j]);                     \
  sink = first(total);

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void chains_avx512(long iters) {
  CHAIN_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32)
}

__attribute__((target("avx2,fma"))) static void chains_avx2(long iters) {
  CHAIN_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32)
}

__attribute__((target("fma"))) static void chains_fma128(long iters) {
  CHAIN_LOOP(__m128, _mm_set1_ps, _mm_fmadd_ps, _mm_add_ps, _mm_cvtss_f32)
}

static inline __m128 sse_mul_add(__m128 a, __m128 b, __m128 c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
static void chains_sse(long iters) { CHAIN_LOOP(__m128, _mm_set1_ps, sse_mul_add, _mm_add_ps, _mm_cvtss_f32) }
#elif defined(__aarch64__)
static inline float vgetq_lane_f32_0(float32x4_t v) { return vgetq_lane_f32(v, 0); }
static inline float32x4_t neon_fma(float32x4_t a, float32x4_t b, float32x4_t c) { return vfmaq_f32(c, a, b); }
static void chains_neon(long iters) { CHAIN_LOOP(float32x4_t, vdupq_n_f32, neon_fma, vaddq_f32, vgetq_lane_f32_0) }
#else
static inline float scalar_fma(float a, float b, float c) { return fmaf(a, b, c); }
static inline float scalar_add(float a, float b) { return a + b; }
static inline float scalar_first(float a) { return a; }
static inline float scalar_set1(float a) { return a; }
static void chains_scalar(long iters) { CHAIN_LOOP(float, scalar_set1, scalar_fma, scalar_add, scalar_first) }
#endif

typedef struct {
  const char *name;
  int lanes;
  void (*run)(long iters);
} fma_isa;

/* The widest the CPU (and OS) supports, or the one asked for ("avx512", "avx2", "fma128", "sse"; NULL: widest). */
static int pick_isa(const char *wanted, fma_isa *out) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const fma_isa isas[] = {
      {"avx512", 16, chains_avx512}, {"avx2", 8, chains_avx2}, {"fma128", 4, chains_fma128}, {"sse", 4, chains_sse}};
  const int supported[] = {__builtin_cpu_supports("avx512f"), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
                           __builtin_cpu_supports("fma"), 1};
  for (int i = 0; i < 4; i++) {
    if (!supported[i]) continue;
    if (wanted == NULL || strcmp(wanted, isas[i].name) == 0) {
      *out = isas[i];
      return 1;
    }
  }
  return 0;
#elif defined(__aarch64__)
  const fma_isa neon = {"neon", 4, chains_neon};
  if (wanted != NULL && strcmp(wanted, "neon") != 0) return 0;
  *out = neon;
  return 1;
#else
  const fma_isa scalar = {"scalar", 1, chains_scalar};
  if (wanted != NULL && strcmp(wanted, "scalar") != 0) return 0;
  *out = scalar;
  return 1;
#endif
}

/* This thread's CPU time: time when the OS gave its core to other work does not count. */
static double thread_cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/*
 * `threads` threads run the chains at once, each for about `seconds`; the best of `trials`
 * (noise only slows it down). *gflops: each thread's FLOPs over its own CPU time, summed — the
 * rate of the cores while they run, which other work on a shared machine does not lower (but
 * which cannot tell two threads time-sliced onto one core from two cores: ask for at most as many
 * threads as cores). *wall_gflops: all the FLOPs over the run's wall time. Returns 0 (nothing
 * measured) when `isa` is not supported here; *isa_name gets the ISA used.
 */
int native_fma_peak(int threads, double seconds, int trials, const char *isa, const char **isa_name, double *gflops,
                    double *wall_gflops) {
  fma_isa chosen;
  if (!pick_isa(isa, &chosen)) return 0;
  *isa_name = chosen.name;
  /* Iterations for `seconds`, from a short calibration on this thread. */
  long iters = 4096;
  double t0 = now();
  chosen.run(iters);
  while (now() - t0 < 0.01) {
    iters *= 2;
    t0 = now();
    chosen.run(iters);
  }
  iters = (long)((double)iters * seconds / (now() - t0)) + 1;
  const double flops = (double)iters * CHAINS * chosen.lanes * 2;
  *gflops = *wall_gflops = 0;
  for (int t = 0; t < trials; t++) {
    double rate = 0;
    int ran = 0;
    const double start = now();
#pragma omp parallel num_threads(threads) reduction(+ : rate, ran)
    {
      const double c0 = thread_cpu_now();
      chosen.run(iters);
      rate += flops / (thread_cpu_now() - c0) / 1e9;
      ran += 1;
    }
    const double wall = (double)ran * flops / (now() - start) / 1e9;
    if (rate > *gflops) *gflops = rate;
    if (wall > *wall_gflops) *wall_gflops = wall;
  }
  return 1;
}
