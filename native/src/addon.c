/*
 * Node-API glue: each export unpacks its arguments (Float32Arrays, read in place through
 * napi_get_typedarray_info — no copies, whichever buffer they view — and numbers) and calls a
 * kernel. Argument order mirrors src/kernels/native/index.ts; the TypeScript side validates.
 */
#include <cblas.h>
#include <node_api.h>
#include <omp.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"

/* A call that can reach oneDNN (its sgemm for thin products and Winograd's products, its
   convolutions): no asynchronous signal on this thread meanwhile (signals.c says why). */
#ifdef DCGAN_DNNL
#define ONEDNN_CALL(stmt)              \
  do {                                 \
    sigset_t saved_;                   \
    native_signals_hold(&saved_);      \
    stmt;                              \
    native_signals_release(&saved_);   \
  } while (0)
#else
#define ONEDNN_CALL(stmt) \
  do {                    \
    stmt;                 \
  } while (0)
#endif

#define MAX_ARGS 20

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int failed;
} args_t;

static int unpack(napi_env env, napi_callback_info info, args_t *a, size_t expected) {
  a->env = env;
  a->argc = MAX_ARGS;
  a->failed = 0;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok || a->argc < expected) {
    napi_throw_type_error(env, NULL, "dcgan native: wrong number of arguments");
    return 0;
  }
  return 1;
}

/* A Float32Array's data pointer, or NULL for null/undefined. */
static float *floats(args_t *a, size_t i) {
  napi_valuetype type;
  if (napi_typeof(a->env, a->argv[i], &type) != napi_ok) a->failed = 1;
  if (type == napi_null || type == napi_undefined) return NULL;
  napi_typedarray_type kind;
  size_t length;
  void *data = NULL;
  if (napi_get_typedarray_info(a->env, a->argv[i], &kind, &length, &data, NULL, NULL) != napi_ok || kind != napi_float32_array) {
    if (!a->failed) napi_throw_type_error(a->env, NULL, "dcgan native: expected a Float32Array");
    a->failed = 1;
    return NULL;
  }
  return (float *)data;
}

static double number(args_t *a, size_t i) {
  double v = 0;
  if (napi_get_value_double(a->env, a->argv[i], &v) != napi_ok) {
    if (!a->failed) napi_throw_type_error(a->env, NULL, "dcgan native: expected a number");
    a->failed = 1;
  }
  return v;
}

static napi_value unknown_op(napi_env env, int ok) {
  if (!ok) napi_throw_range_error(env, NULL, "dcgan native: unknown operation code");
  return NULL;
}

/* gemm(transA, transB, m, n, k, alpha, beta, batch, a, strideA, b, strideB, c, strideC) */
static napi_value gemm(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 14)) return NULL;
  gemm_params p = {
      .trans_a = (int)number(&a, 0), .trans_b = (int)number(&a, 1), .m = (int)number(&a, 2), .n = (int)number(&a, 3),
      .k = (int)number(&a, 4), .alpha = (float)number(&a, 5), .beta = (float)number(&a, 6), .batch = (int)number(&a, 7),
      .stride_a = (long)number(&a, 9), .stride_b = (long)number(&a, 11), .stride_c = (long)number(&a, 13)};
  const float *A = floats(&a, 8), *B = floats(&a, 10);
  float *C = floats(&a, 12);
  if (a.failed) return NULL;
  ONEDNN_CALL(native_gemm(&p, A, B, C));
  return NULL;
}

static int geometry(args_t *a, size_t from, conv_geometry *g) {
  int *fields = &g->n;
  for (int i = 0; i < 12; i++) fields[i] = (int)number(a, from + i);
  return !a->failed;
}

/* im2col(x, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, cols) */
static napi_value im2col(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 14)) return NULL;
  conv_geometry g;
  const float *x = floats(&a, 0);
  float *cols = floats(&a, 13);
  if (geometry(&a, 1, &g) && !a.failed) native_im2col(x, &g, cols);
  return NULL;
}

/* col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, x) */
static napi_value col2im(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 14)) return NULL;
  conv_geometry g;
  const float *cols = floats(&a, 0);
  float *x = floats(&a, 13);
  if (geometry(&a, 1, &g) && !a.failed) native_col2im(cols, &g, x);
  return NULL;
}

/* adjointByImages(w, y, k, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, x): true when done (kernels.h). */
static napi_value adjoint_by_images(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 16)) return NULL;
  conv_geometry g;
  const float *w = floats(&a, 0), *y = floats(&a, 1);
  const int k = (int)number(&a, 2);
  float *x = floats(&a, 15);
  if (!geometry(&a, 3, &g) || a.failed) return NULL;
  napi_value result;
  napi_get_boolean(env, native_adjoint_by_images(w, y, &g, k, x) != 0, &result);
  return result;
}

/* directConv(pass, input, second, output, k, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, layout): true when done, false when declined (kernels.h). */
static napi_value direct_conv(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 18)) return NULL;
  conv_geometry g;
  const int pass = (int)number(&a, 0), k = (int)number(&a, 4), layout = (int)number(&a, 17);
  const float *input = floats(&a, 1), *second = floats(&a, 2);
  float *output = floats(&a, 3);
  if (!geometry(&a, 5, &g) || a.failed) return NULL;
  int done = 0;
  ONEDNN_CALL(done = native_direct_conv(pass, layout, &g, k, input, second, output));
  napi_value result;
  napi_get_boolean(env, done != 0, &result);
  return result;
}

/* directConvRectified(pass, input, second, output, k, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, layout, slope, activated):
   directConv with a rectifier fused in (native_direct_conv_rectified); false when declined, nothing written. */
static napi_value direct_conv_rectified(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 20)) return NULL;
  conv_geometry g;
  const int pass = (int)number(&a, 0), k = (int)number(&a, 4), layout = (int)number(&a, 17);
  const float slope = (float)number(&a, 18);
  const float *input = floats(&a, 1), *second = floats(&a, 2), *activated = floats(&a, 19);
  float *output = floats(&a, 3);
  if (!geometry(&a, 5, &g) || a.failed) return NULL;
  const int done = native_direct_conv_rectified(pass, layout, &g, k, input, second, output, slope, activated);
  napi_value result;
  napi_get_boolean(env, done != 0, &result);
  return result;
}

/* directConvImpl(pass, k, n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, layout): oneDNN's implementation name, or null. */
static napi_value direct_conv_impl(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 15)) return NULL;
  conv_geometry g;
  const int pass = (int)number(&a, 0), k = (int)number(&a, 1), layout = (int)number(&a, 14);
  if (!geometry(&a, 2, &g) || a.failed) return NULL;
  const char *impl = NULL;
  ONEDNN_CALL(impl = native_direct_conv_impl(pass, layout, &g, k));
  napi_value result;
  if (impl == NULL) napi_get_null(env, &result);
  else napi_create_string_utf8(env, impl, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* unary(op, x, out, n, alpha) */
static napi_value unary(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  const int op = (int)number(&a, 0);
  const float *x = floats(&a, 1);
  float *out = floats(&a, 2);
  const long n = (long)number(&a, 3);
  const float alpha = (float)number(&a, 4);
  return a.failed ? NULL : unknown_op(env, native_unary(op, x, out, n, alpha));
}

/* unaryBackward(op, x, y, dy, dx, n, alpha) */
static napi_value unary_backward(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 7)) return NULL;
  const int op = (int)number(&a, 0);
  const float *x = floats(&a, 1), *y = floats(&a, 2), *dy = floats(&a, 3);
  float *dx = floats(&a, 4);
  const long n = (long)number(&a, 5);
  const float alpha = (float)number(&a, 6);
  return a.failed ? NULL : unknown_op(env, native_unary_backward(op, x, y, dy, dx, n, alpha));
}

/* binary(op, a, b, out, n, bScalar) */
static napi_value binary(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 6)) return NULL;
  const int op = (int)number(&a, 0);
  const float *x = floats(&a, 1), *y = floats(&a, 2);
  float *out = floats(&a, 3);
  const long n = (long)number(&a, 4);
  const int b_scalar = (int)number(&a, 5);
  return a.failed ? NULL : unknown_op(env, native_binary(op, x, y, out, n, b_scalar));
}

/* scalar(op, x, s, out, n) */
static napi_value scalar(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  const int op = (int)number(&a, 0);
  const float *x = floats(&a, 1);
  const float s = (float)number(&a, 2);
  float *out = floats(&a, 3);
  const long n = (long)number(&a, 4);
  return a.failed ? NULL : unknown_op(env, native_scalar(op, x, s, out, n));
}

/* swapLeading(x, a, b, rest, out) */
static napi_value swap_leading(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  const float *x = floats(&a, 0);
  float *out = floats(&a, 4);
  const int d0 = (int)number(&a, 1), d1 = (int)number(&a, 2);
  const long rest = (long)number(&a, 3);
  if (!a.failed) native_swap_leading(x, d0, d1, rest, out);
  return NULL;
}

/* channelSum(x, n, c, hw, out) */
static napi_value channel_sum(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  const float *x = floats(&a, 0);
  float *out = floats(&a, 4);
  const int n = (int)number(&a, 1), c = (int)number(&a, 2);
  const long hw = (long)number(&a, 3);
  if (!a.failed) native_channel_sum(x, n, c, hw, out);
  return NULL;
}

/* addChannelBias(y, n, c, hw, bias) */
static napi_value add_channel_bias(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  float *y = floats(&a, 0);
  const float *bias = floats(&a, 4);
  const int n = (int)number(&a, 1), c = (int)number(&a, 2);
  const long hw = (long)number(&a, 3);
  if (!a.failed) native_add_channel_bias(y, n, c, hw, bias);
  return NULL;
}

/* batchNormStats(x, n, c, hw, mean, variance) */
static napi_value batch_norm_stats(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 6)) return NULL;
  const float *x = floats(&a, 0);
  float *mean = floats(&a, 4), *variance = floats(&a, 5);
  const int n = (int)number(&a, 1), c = (int)number(&a, 2);
  const long hw = (long)number(&a, 3);
  if (!a.failed) native_batch_norm_stats(x, n, c, hw, mean, variance);
  return NULL;
}

/* batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y, rectifierSlope (NaN: none)) */
static napi_value batch_norm_apply(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 10)) return NULL;
  const float *x = floats(&a, 0), *mean = floats(&a, 4), *inv_std = floats(&a, 5), *gamma = floats(&a, 6), *beta = floats(&a, 7);
  float *y = floats(&a, 8);
  const int n = (int)number(&a, 1), c = (int)number(&a, 2);
  const long hw = (long)number(&a, 3);
  const float slope = (float)number(&a, 9);
  if (!a.failed) native_batch_norm_apply(x, n, c, hw, mean, inv_std, gamma, beta, y, slope);
  return NULL;
}

/* batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta, beta, slope (NaN: no rectifier)) */
static napi_value batch_norm_backward(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 14)) return NULL;
  const float *x = floats(&a, 0), *dy = floats(&a, 1), *mean = floats(&a, 5), *inv_std = floats(&a, 6), *gamma = floats(&a, 7);
  float *dx = floats(&a, 9), *dgamma = floats(&a, 10), *dbeta = floats(&a, 11);
  const float *beta = floats(&a, 12);
  const int n = (int)number(&a, 2), c = (int)number(&a, 3), batch_stats = (int)number(&a, 8);
  const long hw = (long)number(&a, 4);
  const float slope = (float)number(&a, 13);
  if (!a.failed) native_batch_norm_backward(x, dy, n, c, hw, mean, inv_std, gamma, batch_stats, dx, dgamma, dbeta, beta, slope);
  return NULL;
}

/* adamUpdate(param, grad, m, v, n, beta1, beta2, 1−beta1, 1−beta2, eps, weightDecay, stepSize, sqrt(biasCorrection2)) */
static napi_value adam_update(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 13)) return NULL;
  float *param = floats(&a, 0), *m = floats(&a, 2), *v = floats(&a, 3);
  const float *grad = floats(&a, 1);
  const long n = (long)number(&a, 4);
  adam_hyper h = {.beta1 = (float)number(&a, 5), .beta2 = (float)number(&a, 6), .one_minus_beta1 = (float)number(&a, 7),
                  .one_minus_beta2 = (float)number(&a, 8), .eps = number(&a, 9), .weight_decay = number(&a, 10),
                  .step_size = number(&a, 11), .bias_correction2_sqrt = number(&a, 12)};
  if (!a.failed) native_adam_update(param, grad, m, v, n, &h);
  return NULL;
}

/* fillNormal(state, out, n, mean, std): state is a Uint32Array of the Generator's four words, advanced in place. */
static napi_value fill_normal(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 5)) return NULL;
  napi_typedarray_type kind;
  size_t words = 0;
  void *state = NULL;
  if (napi_get_typedarray_info(env, a.argv[0], &kind, &words, &state, NULL, NULL) != napi_ok || kind != napi_uint32_array || words != 4) {
    napi_throw_type_error(env, NULL, "dcgan native: fillNormal expects the generator's state as a Uint32Array of 4 words");
    return NULL;
  }
  float *out = floats(&a, 1);
  const long n = (long)number(&a, 2);
  const double mean = number(&a, 3), std = number(&a, 4);
  if (!a.failed) native_fill_normal((uint32_t *)state, out, n, mean, std);
  return NULL;
}

/* setThreads(n): one count for our OpenMP kernels and OpenBLAS. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 1)) return NULL;
  const int n = (int)number(&a, 0);
  if (a.failed) return NULL;
  if (n < 1) {
    napi_throw_range_error(env, NULL, "dcgan native: the thread count must be ≥ 1");
    return NULL;
  }
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  native_signals_block_workers();
  return NULL;
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/* info(): what runs — OpenBLAS's build and kernel family, its threading, our thread count. */
static napi_value library_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  napi_create_object(env, &obj);
  set_string(env, obj, "blasConfig", openblas_get_config());
  set_string(env, obj, "blasCore", openblas_get_corename());
  /* openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP. */
  const int parallel = openblas_get_parallel();
  set_string(env, obj, "blasThreading", parallel == 2 ? "openmp" : parallel == 1 ? "pthreads" : "sequential");
  set_number(env, obj, "blasThreads", openblas_get_num_threads());
  set_number(env, obj, "threads", omp_get_max_threads());
  set_number(env, obj, "cores", omp_get_num_procs());
  const char *direct = native_direct_conv_library();
  if (direct != NULL) set_string(env, obj, "directConv", direct);
  return obj;
}

/* fmaPeak(threads, seconds, trials, isa?): {gflops, wallGflops, isa}, the FMA peak measured (peak.c); null for an unsupported isa. */
static napi_value fma_peak(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 3)) return NULL;
  const int threads = (int)number(&a, 0), trials = (int)number(&a, 2);
  const double seconds = number(&a, 1);
  char isa[16] = "";
  napi_valuetype type = napi_undefined;
  if (a.argc > 3) napi_typeof(env, a.argv[3], &type);
  if (type == napi_string && napi_get_value_string_utf8(env, a.argv[3], isa, sizeof isa, NULL) != napi_ok) a.failed = 1;
  if (a.failed) return NULL;
  if (threads < 1 || trials < 1 || !(seconds > 0 && seconds <= 10)) {
    napi_throw_range_error(env, NULL, "dcgan native: fmaPeak needs threads ≥ 1, trials ≥ 1 and 0 < seconds ≤ 10");
    return NULL;
  }
  const char *used = NULL;
  double gflops = 0, wall_gflops = 0;
  napi_value result;
  if (!native_fma_peak(threads, seconds, trials, type == napi_string ? isa : NULL, &used, &gflops, &wall_gflops)) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_object(env, &result);
  set_number(env, result, "gflops", gflops);
  set_number(env, result, "wallGflops", wall_gflops);
  set_string(env, result, "isa", used);
  return result;
}

/*
 * releasePages(view): gives the whole pages inside a Float32Array back to the system
 * (MADV_DONTNEED: they read as zeros when touched again). The heap calls it for freed tensor
 * memory while a training step's layout is not yet planned, so resident memory follows the
 * live tensors instead of first fit's highest top.
 */
static napi_value release_pages(napi_env env, napi_callback_info info) {
  args_t a;
  if (!unpack(env, info, &a, 1)) return NULL;
  napi_typedarray_type kind;
  size_t length;
  void *data = NULL;
  if (napi_get_typedarray_info(env, a.argv[0], &kind, &length, &data, NULL, NULL) != napi_ok || kind != napi_float32_array) {
    napi_throw_type_error(env, NULL, "dcgan native: expected a Float32Array");
    return NULL;
  }
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  const uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1);
  const uintptr_t end = ((uintptr_t)data + length * sizeof(float)) & ~(page - 1);
  if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
  return NULL;
}

#define EXPORT(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      EXPORT("gemm", gemm),
      EXPORT("im2col", im2col),
      EXPORT("directConv", direct_conv),
      EXPORT("directConvRectified", direct_conv_rectified),
      EXPORT("directConvImpl", direct_conv_impl),
      EXPORT("col2im", col2im),
      EXPORT("adjointByImages", adjoint_by_images),
      EXPORT("unary", unary),
      EXPORT("unaryBackward", unary_backward),
      EXPORT("binary", binary),
      EXPORT("scalar", scalar),
      EXPORT("swapLeading", swap_leading),
      EXPORT("channelSum", channel_sum),
      EXPORT("addChannelBias", add_channel_bias),
      EXPORT("batchNormStats", batch_norm_stats),
      EXPORT("batchNormApply", batch_norm_apply),
      EXPORT("batchNormBackward", batch_norm_backward),
      EXPORT("adamUpdate", adam_update),
      EXPORT("fillNormal", fill_normal),
      EXPORT("setThreads", set_threads),
      EXPORT("info", library_info),
      EXPORT("fmaPeak", fma_peak),
      EXPORT("releasePages", release_pages),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  native_signals_block_workers();
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
