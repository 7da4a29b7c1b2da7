/*
 * Direct convolutions through oneDNN (optional: compiled only when scripts/build-native.mjs
 * finds libdnnl; otherwise every entry point declines and the im2col + GEMM path runs).
 *
 * Three passes over the geometry of conv.c (an image side [n, c, h, w], a column side
 * [n, k, out_h, out_w], weights [k, c, kh, kw]):
 *   DIRECT_CONVOLVE  image → column side: oneDNN's convolution forward;
 *   DIRECT_ADJOINT   column side → image: its backward-data (a transposed convolution);
 *   DIRECT_WEIGHTS   image and column side → the weight gradient: its backward-weights.
 * The caller's tensors are plain NCHW / OIHW. oneDNN picks its own layouts (blocked by 8 or 16
 * channels for its direct kernels), or holds the activations channels-last (DIRECT_CHANNELS_LAST,
 * where it has other kernels, faster on some layers), so each call reorders in and out of them; the blocked
 * copies live in one scratch arena shared by every geometry, since calls never overlap, and
 * a batch whose copies would pass ARENA_BUDGET is convolved a chunk of images at a time (the
 * weight gradient, a sum over the batch, is left to im2col + GEMM there).
 * Primitives are made once per geometry and thread count and kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef DCGAN_DNNL
#include <dnnl.h>
#include <omp.h>

typedef struct cached_conv {
  int pass, layout, threads, k;
  conv_geometry g;
  int ok;
  dnnl_primitive_t conv;
  /* Reorders of the two inputs and the output; NULL where the layouts already agree. */
  dnnl_primitive_t to_input, to_second, from_output;
  /* The caller's buffers (handles set per call) and the blocked copies (handles into the arena). */
  dnnl_memory_t user_input, user_second, user_output;
  dnnl_memory_t input, second, output;
  size_t input_bytes, second_bytes, output_bytes;
  /* The argument names of the two inputs and the output for this pass (DNNL_ARG_SRC, …). */
  int input_arg, second_arg, output_arg;
  char impl[64];
  struct cached_conv *next;
} cached_conv;

static dnnl_engine_t engine = NULL;
static dnnl_stream_t stream = NULL;
static int engine_failed = 0;
static cached_conv *cache = NULL;
static char *arena = NULL;
static size_t arena_bytes = 0;

static int ensure_engine(void) {
  if (engine != NULL) return 1;
  if (engine_failed) return 0;
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success || dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
    engine_failed = 1;
    return 0;
  }
  return 1;
}

static int same_geometry(const conv_geometry *a, const conv_geometry *b) { return memcmp(a, b, sizeof *a) == 0; }

/* A reorder from one layout to another; NULL (and no copy) when they agree. */
static int make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_primitive_t *out) {
  *out = NULL;
  if (dnnl_memory_desc_equal(from, to)) return 1;
  dnnl_primitive_desc_t pd;
  if (dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL) != dnnl_success) return 0;
  const int ok = dnnl_primitive_create(out, pd) == dnnl_success;
  dnnl_primitive_desc_destroy(pd);
  return ok;
}

/* Sets up one geometry and pass; returns 0 when oneDNN cannot do it (the caller falls back). */
static int build(cached_conv *e) {
  const conv_geometry *g = &e->g;
  const dnnl_dims_t image_dims = {g->n, g->c, g->h, g->w};
  const dnnl_dims_t column_dims = {g->n, e->k, g->out_h, g->out_w};
  const dnnl_dims_t weight_dims = {e->k, g->c, g->kh, g->kw};
  const dnnl_dims_t strides = {g->stride_h, g->stride_w};
  const dnnl_dims_t pad_l = {g->pad_h, g->pad_w};
  /* Bottom/right padding that gives exactly out_h × out_w (floor division may drop rows). */
  const dnnl_dims_t pad_r = {(long)(g->out_h - 1) * g->stride_h + g->kh - g->h - g->pad_h,
                             (long)(g->out_w - 1) * g->stride_w + g->kw - g->w - g->pad_w};
  if (pad_r[0] < 0 || pad_r[1] < 0) return 0;

  dnnl_memory_desc_t image_any, column_any, weight_any, image_plain, column_plain, weight_plain;
  const dnnl_format_tag_t activations = e->layout == DIRECT_CHANNELS_LAST ? dnnl_nhwc : dnnl_format_tag_any;
  if (dnnl_memory_desc_init_by_tag(&image_any, 4, image_dims, dnnl_f32, activations) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&column_any, 4, column_dims, dnnl_f32, activations) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&weight_any, 4, weight_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&image_plain, 4, image_dims, dnnl_f32, dnnl_nchw) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&column_plain, 4, column_dims, dnnl_f32, dnnl_nchw) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&weight_plain, 4, weight_dims, dnnl_f32, dnnl_oihw) != dnnl_success)
    return 0;

  dnnl_convolution_desc_t forward_desc;
  if (dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, dnnl_convolution_direct, &image_any, &weight_any, NULL,
                                         &column_any, strides, pad_l, pad_r) != dnnl_success)
    return 0;
  dnnl_primitive_desc_t forward_pd;
  if (dnnl_primitive_desc_create(&forward_pd, &forward_desc, NULL, engine, NULL) != dnnl_success) return 0;

  dnnl_primitive_desc_t pd = forward_pd;
  if (e->pass != DIRECT_CONVOLVE) {
    dnnl_convolution_desc_t backward_desc;
    const dnnl_status_t made =
        e->pass == DIRECT_ADJOINT
            ? dnnl_convolution_backward_data_desc_init(&backward_desc, dnnl_convolution_direct, &image_any, &weight_any, &column_any, strides, pad_l,
                                                       pad_r)
            : dnnl_convolution_backward_weights_desc_init(&backward_desc, dnnl_convolution_direct, &image_any, &weight_any, NULL, &column_any,
                                                          strides, pad_l, pad_r);
    if (made != dnnl_success || dnnl_primitive_desc_create(&pd, &backward_desc, NULL, engine, forward_pd) != dnnl_success) {
      dnnl_primitive_desc_destroy(forward_pd);
      return 0;
    }
  }
  /* Each pass's two inputs and output: oneDNN's layout, ours, and the argument's name. */
  dnnl_query_t input_q, second_q, output_q;
  const dnnl_memory_desc_t *input_plain, *second_plain, *output_plain;
  if (e->pass == DIRECT_CONVOLVE) {
    input_q = dnnl_query_src_md, input_plain = &image_plain, e->input_arg = DNNL_ARG_SRC;
    second_q = dnnl_query_weights_md, second_plain = &weight_plain, e->second_arg = DNNL_ARG_WEIGHTS;
    output_q = dnnl_query_dst_md, output_plain = &column_plain, e->output_arg = DNNL_ARG_DST;
  } else if (e->pass == DIRECT_ADJOINT) {
    input_q = dnnl_query_diff_dst_md, input_plain = &column_plain, e->input_arg = DNNL_ARG_DIFF_DST;
    second_q = dnnl_query_weights_md, second_plain = &weight_plain, e->second_arg = DNNL_ARG_WEIGHTS;
    output_q = dnnl_query_diff_src_md, output_plain = &image_plain, e->output_arg = DNNL_ARG_DIFF_SRC;
  } else {
    input_q = dnnl_query_src_md, input_plain = &image_plain, e->input_arg = DNNL_ARG_SRC;
    second_q = dnnl_query_diff_dst_md, second_plain = &column_plain, e->second_arg = DNNL_ARG_DIFF_DST;
    output_q = dnnl_query_diff_weights_md, output_plain = &weight_plain, e->output_arg = DNNL_ARG_DIFF_WEIGHTS;
  }
  const dnnl_memory_desc_t *input_md = dnnl_primitive_desc_query_md(pd, input_q, 0);
  const dnnl_memory_desc_t *second_md = dnnl_primitive_desc_query_md(pd, second_q, 0);
  const dnnl_memory_desc_t *output_md = dnnl_primitive_desc_query_md(pd, output_q, 0);
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  strncpy(e->impl, impl != NULL ? impl : "?", sizeof e->impl - 1);

  int ok = input_md != NULL && second_md != NULL && output_md != NULL && dnnl_primitive_create(&e->conv, pd) == dnnl_success &&
           make_reorder(input_plain, input_md, &e->to_input) && make_reorder(second_plain, second_md, &e->to_second) &&
           make_reorder(output_md, output_plain, &e->from_output) &&
           dnnl_memory_create(&e->user_input, input_plain, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->user_second, second_plain, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->user_output, output_plain, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->input, input_md, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->second, second_md, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->output, output_md, engine, DNNL_MEMORY_NONE) == dnnl_success;
  if (ok) {
    /* Only the reordered copies take arena room, each rounded to a cache line. */
    e->input_bytes = e->to_input != NULL ? (dnnl_memory_desc_get_size(input_md) + 63) & ~(size_t)63 : 0;
    e->second_bytes = e->to_second != NULL ? (dnnl_memory_desc_get_size(second_md) + 63) & ~(size_t)63 : 0;
    e->output_bytes = e->from_output != NULL ? (dnnl_memory_desc_get_size(output_md) + 63) & ~(size_t)63 : 0;
  }
  if (pd != forward_pd) dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_desc_destroy(forward_pd);
  return ok;
}

static void destroy(cached_conv *e) {
  dnnl_primitive_t primitives[] = {e->conv, e->to_input, e->to_second, e->from_output};
  for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
    if (primitives[i] != NULL) dnnl_primitive_destroy(primitives[i]);
  }
  dnnl_memory_t memories[] = {e->user_input, e->user_second, e->user_output, e->input, e->second, e->output};
  for (size_t i = 0; i < sizeof memories / sizeof memories[0]; i++) {
    if (memories[i] != NULL) dnnl_memory_destroy(memories[i]);
  }
  free(e);
}

/*
 * The entry for a geometry, pass and thread count, made on first use. Most recently used first;
 * beyond MAX_CACHED (a process that sees many batch sizes) the least recently used is destroyed,
 * so memory stays bounded.
 */
#define MAX_CACHED 96

static cached_conv *lookup(int pass, int layout, const conv_geometry *g, int k) {
  const int threads = omp_get_max_threads();
  int count = 0;
  for (cached_conv **link = &cache; *link != NULL; link = &(*link)->next, count++) {
    cached_conv *e = *link;
    if (e->pass == pass && e->layout == layout && e->k == k && e->threads == threads && same_geometry(&e->g, g)) {
      *link = e->next;
      e->next = cache;
      cache = e;
      return e;
    }
  }
  if (count >= MAX_CACHED) {
    cached_conv **link = &cache;
    while ((*link)->next != NULL) link = &(*link)->next;
    destroy(*link);
    *link = NULL;
  }
  cached_conv *e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->pass = pass;
  e->layout = layout;
  e->k = k;
  e->threads = threads;
  e->g = *g;
  e->ok = build(e);
  e->next = cache;
  cache = e;
  return e;
}

static int grow_arena(size_t bytes) {
  if (bytes <= arena_bytes) return 1;
  free(arena);
  arena = aligned_alloc(64, bytes);
  arena_bytes = arena != NULL ? bytes : 0;
  return arena != NULL;
}

static int run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
  return dnnl_primitive_execute(p, stream, n, args) == dnnl_success;
}

/* One entry's pass over its images: reorders in, the convolution, the reorder out. */
static int execute(cached_conv *e, const float *input, const float *second, float *output) {
  char *room = arena;
  int ok = dnnl_memory_set_data_handle(e->user_input, (void *)input) == dnnl_success &&
           dnnl_memory_set_data_handle(e->user_second, (void *)second) == dnnl_success &&
           dnnl_memory_set_data_handle(e->user_output, output) == dnnl_success &&
           dnnl_memory_set_data_handle(e->input, e->to_input != NULL ? (void *)room : (void *)input) == dnnl_success &&
           dnnl_memory_set_data_handle(e->second, e->to_second != NULL ? (void *)(room + e->input_bytes) : (void *)second) == dnnl_success &&
           dnnl_memory_set_data_handle(e->output, e->from_output != NULL ? (void *)(room + e->input_bytes + e->second_bytes) : (void *)output) == dnnl_success;
  if (ok && e->to_input != NULL) ok = run(e->to_input, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, e->user_input}, {DNNL_ARG_TO, e->input}});
  if (ok && e->to_second != NULL) ok = run(e->to_second, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, e->user_second}, {DNNL_ARG_TO, e->second}});
  if (ok) {
    const dnnl_exec_arg_t args[3] = {{e->input_arg, e->input}, {e->second_arg, e->second}, {e->output_arg, e->output}};
    ok = run(e->conv, 3, args);
  }
  if (ok && e->from_output != NULL) ok = run(e->from_output, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, e->output}, {DNNL_ARG_TO, e->user_output}});
  return ok && dnnl_stream_wait(stream) == dnnl_success;
}

/*
 * The blocked copies of one chunk of images stay within this many bytes, so the arena is
 * bounded whatever the batch and image size (as the im2col path's column budget bounds its
 * columns): large images are convolved a few at a time.
 */
#define ARENA_BUDGET (64L << 20)

static int images_per_chunk(const conv_geometry *g, int k) {
  /* One image's blocked input and output at most: channels rounded up to blocks of 16. */
  const long image = (long)((g->c + 15) / 16 * 16) * g->h * g->w;
  const long columns = (long)((k + 15) / 16 * 16) * g->out_h * g->out_w;
  const long chunk = ARENA_BUDGET / ((image + columns) * (long)sizeof(float));
  return chunk < 1 ? 1 : chunk < g->n ? (int)chunk : g->n;
}

static size_t arena_need(const cached_conv *e) { return e == NULL ? 0 : e->input_bytes + e->second_bytes + e->output_bytes; }

int native_direct_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output) {
  if ((pass != DIRECT_CONVOLVE && pass != DIRECT_ADJOINT && pass != DIRECT_WEIGHTS) || (layout != DIRECT_BLOCKED && layout != DIRECT_CHANNELS_LAST) ||
      !ensure_engine())
    return 0;
  if (pass == DIRECT_WEIGHTS) {
    /* One call sums over the whole batch; where its copies would pass the budget, im2col + GEMM does it. */
    cached_conv *e = lookup(pass, layout, g, k);
    if (e == NULL || !e->ok || arena_need(e) > (size_t)ARENA_BUDGET || !grow_arena(arena_need(e))) return 0;
    return execute(e, input, second, output);
  }
  /* Every entry is made (or found) before anything runs, so a declined call writes nothing. */
  conv_geometry part = *g;
  part.n = images_per_chunk(g, k);
  cached_conv *whole = lookup(pass, layout, &part, k);
  cached_conv *last = NULL;
  const int remainder = g->n % part.n;
  if (remainder != 0) {
    conv_geometry tail = *g;
    tail.n = remainder;
    last = lookup(pass, layout, &tail, k);
    if (last == NULL || !last->ok) return 0;
  }
  if (whole == NULL || !whole->ok) return 0;
  const size_t need = arena_need(whole) > arena_need(last) ? arena_need(whole) : arena_need(last);
  if (!grow_arena(need)) return 0;
  const long image = (long)g->c * g->h * g->w, columns = (long)k * g->out_h * g->out_w;
  const long in_size = pass == DIRECT_CONVOLVE ? image : columns, out_size = pass == DIRECT_CONVOLVE ? columns : image;
  int ok = 1;
  for (int n0 = 0; ok && n0 < g->n; n0 += part.n) {
    cached_conv *e = g->n - n0 >= part.n ? whole : last;
    ok = execute(e, input + n0 * in_size, second, output + n0 * out_size);
  }
  return ok;
}

const char *native_direct_conv_impl(int pass, int layout, const conv_geometry *g, int k) {
  if ((layout != DIRECT_BLOCKED && layout != DIRECT_CHANNELS_LAST) || !ensure_engine()) return NULL;
  conv_geometry part = *g;
  if (pass != DIRECT_WEIGHTS) part.n = images_per_chunk(g, k);
  cached_conv *e = lookup(pass, layout, &part, k);
  return e != NULL && e->ok ? e->impl : NULL;
}

const char *native_direct_conv_library(void) {
  static char version[32];
  const dnnl_version_t *v = dnnl_version();
  snprintf(version, sizeof version, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
  return version;
}

#else

int native_direct_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output) { return 0; }
const char *native_direct_conv_impl(int pass, int layout, const conv_geometry *g, int k) { return NULL; }
const char *native_direct_conv_library(void) { return NULL; }

#endif
