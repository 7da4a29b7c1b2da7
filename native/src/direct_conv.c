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
 * where it has other kernels, faster on some layers), or computes a strided layer as stride-1
 * convolutions over its image's phases (DIRECT_PHASES, DIRECT_PHASES_FORWARD; below), so each call
 * reorders in and out of them; the blocked
 * copies live in one scratch arena shared by every geometry, since calls never overlap, and
 * a batch whose copies would pass ARENA_BUDGET is convolved a chunk of images at a time (the
 * weight gradient, a sum over the batch, is left to im2col + GEMM there).
 * Primitives are made once per geometry and thread count and kept.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Our variants, which need no oneDNN: 1 when `layout` is one of them (*done: whether it ran). */
static int ours_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output, int *done) {
  if (layout == DIRECT_WINOGRAD || layout == DIRECT_WINOGRAD4) *done = native_winograd_conv(pass, layout == DIRECT_WINOGRAD4 ? 4 : 2, g, k, input, second, output);
  else if (layout == DIRECT_IMAGE) *done = native_image_conv(pass, g, k, input, second, output, NAN, NULL);
  else return 0;
  return 1;
}

static int ours_impl(int layout, const conv_geometry *g, int k, const char **impl) {
  if (layout == DIRECT_WINOGRAD) *impl = native_winograd_applies(g, 2) ? "winograd F(2x2,2x2) on phases" : NULL;
  else if (layout == DIRECT_WINOGRAD4) *impl = native_winograd_applies(g, 4) ? "winograd F(4x4,2x2) on phases" : NULL;
  else if (layout == DIRECT_IMAGE) *impl = native_image_conv_applies(g, k) ? "direct on phases, few channels" : NULL;
  else return 0;
  return 1;
}

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
  /* DIRECT_PHASES, DIRECT_PHASES_FORWARD: the phases' primitives (the fields above stay unused). */
  struct cached_phases *phases;
  char impl[64];
  struct cached_conv *next;
} cached_conv;

struct cached_phases;
static int build_phase_entry(cached_conv *e);
static void destroy_phases(struct cached_phases *e);
static size_t phases_arena_need(const struct cached_phases *e);
static int execute_phases(struct cached_phases *e, const float *input, const float *second, float *output);

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
  if (e->layout == DIRECT_PHASES || e->layout == DIRECT_PHASES_FORWARD) return build_phase_entry(e);
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
  if (e->phases != NULL) destroy_phases(e->phases);
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
  if (e->phases != NULL) return execute_phases(e->phases, input, second, output);
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

static size_t arena_need(const cached_conv *e) {
  if (e == NULL) return 0;
  return e->phases != NULL ? phases_arena_need(e->phases) : e->input_bytes + e->second_bytes + e->output_bytes;
}

int native_direct_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output) {
  int done = 0;
  if (ours_conv(pass, layout, g, k, input, second, output, &done)) return done;
  if ((pass != DIRECT_CONVOLVE && pass != DIRECT_ADJOINT && pass != DIRECT_WEIGHTS) ||
      (layout < DIRECT_BLOCKED || layout > DIRECT_PHASES_FORWARD) || !ensure_engine())
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


/*
 * DIRECT_PHASES: a layer of stride s (kernel a multiple of s) as s_h·s_w stride-1 convolutions,
 * one per phase of the image: x_r[i] = x[s·i + r]. Output position i reads x[s·i + t − pad] at
 * tap t, which lies in phase r = (t − pad) mod s, at x_r[i + ⌊(t − pad)/s⌋]; so phase r is a
 * stride-1 convolution of x_r with the taps t ≡ r + pad (mod s), every s-th one. The forward
 * sums the phases' outputs (oneDNN's sum post-op); the adjoint and the weight gradient write
 * disjoint parts (each image position, each tap, belongs to one phase). Phase images move
 * between the caller's NCHW image and all the phases in one pass of ours (interleave_phases), or
 * by a strided reorder per phase where oneDNN chose a layout that pass does not know; phase
 * kernels between the caller's OIHW weights and every phase's layout, whatever oneDNN chose, in
 * one pass of ours too (move_phase_kernels). DIRECT_PHASES_FORWARD computes the adjoint's phases
 * as forward convolutions with the flipped kernel. Why: oneDNN's stride-1 kernels run closer to
 * the FMA peak than its strided ones on the DCGAN layers (BENCHMARKS.md).
 */
#define MAX_PHASES 16

/* A blocked activation layout: element (n, c, h, w) at n·sn + ⌊c/block⌋·scb + h·sh + w·sw + c mod block. */
typedef struct {
  long sn, scb, sh, sw, block;
} act_layout;

/* The layout of an activation descriptor, where it is one of those (nchw, nhwc, aBcd8b, aBcd16b, … without padding). */
static int act_layout_of(const dnnl_memory_desc_t *md, act_layout *l) {
  if (md->ndims != 4 || md->format_kind != dnnl_blocked || md->offset0 != 0) return 0;
  for (int d = 0; d < 4; d++)
    if (md->padded_dims[d] != md->dims[d] || md->padded_offsets[d] != 0) return 0;
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  if (b->inner_nblks == 0) l->block = 1;
  else if (b->inner_nblks == 1 && b->inner_idxs[0] == 1 && md->dims[1] % b->inner_blks[0] == 0) l->block = b->inner_blks[0];
  else return 0;
  l->sn = b->strides[0], l->scb = b->strides[1], l->sh = b->strides[2], l->sw = b->strides[3];
  return 1;
}

typedef struct {
  dnnl_primitive_t conv, to_input, from_output;
  /* A view into the caller's image (handle set per call at this element offset), and the phase's copies. */
  dnnl_memory_t user_input, user_output, input, weights, output;
  long input_offset;
  size_t input_bytes, weights_bytes;
  /* Where its image side and its kernel lie in the arena (after the shared side), and the image side's layout. */
  size_t image_offset, weights_offset;
  act_layout image_layout;
  /* The kernel's layout: the parts of an element's offset that the caller's output and input channel add
     (blocked_offsets), and whether it pads channels (then its room is cleared before the kernel moves in). */
  long *along_k, *along_c;
  int weights_padded;
} phase_part;

typedef struct cached_phases {
  int pass, layout, threads, k, count, ok;
  conv_geometry g;
  /* The side all phases share: the forward's output (summed into), the adjoint's and weight gradient's dy. */
  dnnl_primitive_t shared_reorder;
  dnnl_memory_t user_shared, shared;
  size_t shared_bytes;
  /* Every phase's image side at once, and whether one pass of ours moves them all between the caller's image
     and the phases (instead of a strided oneDNN reorder per phase); then every phase's kernel. */
  size_t images_bytes, kernels_bytes;
  int interleave;
  /* Each tap of the caller's kernel (kh·kw of them): the phase that holds it, and the part of its offset there
     that the tap adds (move_phase_kernels). */
  int *tap_phase;
  long *tap_offset;
  phase_part part[MAX_PHASES];
  char impl[64];
} cached_phases;

static int strided_desc(dnnl_memory_desc_t *md, long d0, long d1, long d2, long d3, long s0, long s1, long s2, long s3) {
  const dnnl_dims_t dims = {d0, d1, d2, d3}, strides = {s0, s1, s2, s3};
  return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides) == dnnl_success;
}

static size_t blocked_bytes(const dnnl_primitive_t reorder, const dnnl_memory_desc_t *md) {
  return reorder != NULL ? (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63 : 0;
}

/* One phase's placement along one axis: rows of the phase image, its first tap, taps, and padding. */
typedef struct {
  long rows, first_tap, taps, pad_before, pad_after;
} phase_axis;

static int phase_axis_of(int r, int size, int kernel, int stride, int pad, int out, phase_axis *a) {
  a->rows = (size - r + stride - 1) / stride;
  a->first_tap = ((r + pad) % stride + stride) % stride;
  a->taps = kernel / stride;
  /* ⌊(first_tap − pad)/stride⌋, at most 0: the phase image starts that many rows before output row 0 reads it. */
  const long shift = a->first_tap - pad >= 0 ? (a->first_tap - pad) / stride : -((pad - a->first_tap + stride - 1) / stride);
  a->pad_before = -shift;
  a->pad_after = (out - 1) + (a->taps - 1) + shift - (a->rows - 1);
  return a->rows > 0 && a->pad_after >= 0 && a->pad_before <= a->taps - 1 && a->pad_after <= a->taps - 1;
}

/*
 * Each dimension's part of an element's offset in a blocked layout (oneDNN's layouts add them
 * apart, inner blocks included): along[d][i], i < dims[d], in one allocation (along[0], which the
 * caller frees). 0 where the layout is not blocked or pads at the start.
 */
static int blocked_offsets(const dnnl_memory_desc_t *md, long *along[4]) {
  if (md->ndims != 4 || md->format_kind != dnnl_blocked) return 0;
  long total = 0;
  for (int d = 0; d < 4; d++) {
    if (md->padded_offsets[d] != 0) return 0;
    total += md->dims[d];
  }
  long *room = malloc(sizeof(long) * (size_t)total);
  if (room == NULL) return 0;
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  for (int d = 0; d < 4; d++) {
    along[d] = room;
    room += md->dims[d];
    long blocked = 1;
    for (int j = 0; j < b->inner_nblks; j++)
      if (b->inner_idxs[j] == d) blocked *= b->inner_blks[j];
    for (long i = 0; i < md->dims[d]; i++) {
      /* The outer index by the dimension's stride; each inner block's index by the blocks inside it. */
      long offset = (d == 0 ? md->offset0 : 0) + (i / blocked) * b->strides[d], within = 1, inner = 1;
      for (int j = b->inner_nblks - 1; j >= 0; j--) {
        if (b->inner_idxs[j] == d) {
          offset += (i / within) % b->inner_blks[j] * inner;
          within *= b->inner_blks[j];
        }
        inner *= b->inner_blks[j];
      }
      along[d][i] = offset;
    }
  }
  return 1;
}

static int build_phases(cached_phases *e) {
  const conv_geometry *g = &e->g;
  const int sh = g->stride_h, sw = g->stride_w, k = e->k;
  /* As forward convolutions: the adjoint only (its phases are transposed convolutions of stride 1, i.e. correlations with the flipped kernel). */
  const int as_forward = e->layout == DIRECT_PHASES_FORWARD;
  if (sh * sw < 2 || sh * sw > MAX_PHASES || g->kh % sh != 0 || g->kw % sw != 0 || (as_forward && e->pass != DIRECT_ADJOINT)) return 0;
  e->count = sh * sw;
  const long taps = (long)g->kh * g->kw;
  e->tap_phase = malloc(sizeof(int) * (size_t)taps);
  e->tap_offset = malloc(sizeof(long) * (size_t)taps);
  if (e->tap_phase == NULL || e->tap_offset == NULL) return 0;
  for (long t = 0; t < taps; t++) e->tap_phase[t] = -1;
  const dnnl_dims_t column_dims = {g->n, k, g->out_h, g->out_w}, ones = {1, 1};
  dnnl_memory_desc_t column_plain, column_any;
  if (dnnl_memory_desc_init_by_tag(&column_plain, 4, column_dims, dnnl_f32, dnnl_nchw) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&column_any, 4, column_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success)
    return 0;
  /* The shared side's layout: phase 0 picks it, the others are made to agree. */
  dnnl_memory_desc_t shared_md = column_any;
  int ok = 1;
  for (int p = 0; ok && p < e->count; p++) {
    phase_part *part = &e->part[p];
    const int rh = p / sw, rw = p % sw;
    phase_axis ah, aw;
    if (!phase_axis_of(rh, g->h, g->kh, sh, g->pad_h, g->out_h, &ah) || !phase_axis_of(rw, g->w, g->kw, sw, g->pad_w, g->out_w, &aw)) return 0;
    /* x_r as a view of the image. */
    dnnl_memory_desc_t image_view, image_any, weight_any;
    const dnnl_dims_t image_dims = {g->n, g->c, ah.rows, aw.rows}, weight_dims = {k, g->c, ah.taps, aw.taps};
    if (!strided_desc(&image_view, g->n, g->c, ah.rows, aw.rows, (long)g->c * g->h * g->w, (long)g->h * g->w, (long)sh * g->w, sw) ||
        dnnl_memory_desc_init_by_tag(&image_any, 4, image_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&weight_any, 4, weight_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success)
      return 0;
    part->input_offset = (long)rh * g->w + rw;
    const dnnl_dims_t pad_l = {ah.pad_before, aw.pad_before}, pad_r = {ah.pad_after, aw.pad_after};

    /* The phase's primitive: the pass itself, or (as_forward) a forward convolution dy → dx_r through the
       flipped kernel [c, k, taps]. */
    dnnl_primitive_desc_t forward_pd = NULL, pd = NULL;
    dnnl_query_t shared_q, image_q, weight_q;
    if (as_forward) {
      /* The padding that maps out_h rows onto the phase's rows. */
      const dnnl_dims_t flipped_l = {ah.taps - 1 - ah.pad_before, aw.taps - 1 - aw.pad_before};
      const dnnl_dims_t flipped_r = {ah.rows - g->out_h - flipped_l[0] + ah.taps - 1, aw.rows - g->out_w - flipped_l[1] + aw.taps - 1};
      const dnnl_dims_t flipped_dims = {g->c, k, ah.taps, aw.taps};
      dnnl_memory_desc_t flipped_any;
      dnnl_convolution_desc_t desc;
      ok = flipped_r[0] >= 0 && flipped_r[1] >= 0 && flipped_r[0] < ah.taps && flipped_r[1] < aw.taps &&
           dnnl_memory_desc_init_by_tag(&flipped_any, 4, flipped_dims, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &shared_md, &flipped_any, NULL, &image_any, ones,
                                              flipped_l, flipped_r) == dnnl_success &&
           dnnl_primitive_desc_create(&forward_pd, &desc, NULL, engine, NULL) == dnnl_success;
      pd = forward_pd;
      shared_q = dnnl_query_src_md, image_q = dnnl_query_dst_md, weight_q = dnnl_query_weights_md;
    } else {
      dnnl_primitive_attr_t attr = NULL;
      dnnl_post_ops_t post_ops = NULL;
      if (e->pass == DIRECT_CONVOLVE && p > 0) {
        /* Phases after the first add into the output the first one wrote. */
        ok = dnnl_primitive_attr_create(&attr) == dnnl_success && dnnl_post_ops_create(&post_ops) == dnnl_success &&
             dnnl_post_ops_append_sum(post_ops, 1.0f) == dnnl_success && dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success;
      }
      dnnl_convolution_desc_t forward_desc;
      ok = ok && dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, dnnl_convolution_direct, &image_any, &weight_any, NULL, &shared_md,
                                                    ones, pad_l, pad_r) == dnnl_success &&
           dnnl_primitive_desc_create(&forward_pd, &forward_desc, e->pass == DIRECT_CONVOLVE ? attr : NULL, engine, NULL) == dnnl_success;
      pd = forward_pd;
      if (ok && e->pass != DIRECT_CONVOLVE) {
        dnnl_convolution_desc_t backward_desc;
        const dnnl_status_t made =
            e->pass == DIRECT_ADJOINT
                ? dnnl_convolution_backward_data_desc_init(&backward_desc, dnnl_convolution_direct, &image_any, &weight_any, &shared_md, ones, pad_l, pad_r)
                : dnnl_convolution_backward_weights_desc_init(&backward_desc, dnnl_convolution_direct, &image_any, &weight_any, NULL, &shared_md, ones, pad_l,
                                                              pad_r);
        ok = made == dnnl_success && dnnl_primitive_desc_create(&pd, &backward_desc, NULL, engine, forward_pd) == dnnl_success;
      }
      if (post_ops != NULL) dnnl_post_ops_destroy(post_ops);
      if (attr != NULL) dnnl_primitive_attr_destroy(attr);
      shared_q = e->pass == DIRECT_CONVOLVE ? dnnl_query_dst_md : dnnl_query_diff_dst_md;
      image_q = e->pass == DIRECT_ADJOINT ? dnnl_query_diff_src_md : dnnl_query_src_md;
      weight_q = e->pass == DIRECT_WEIGHTS ? dnnl_query_diff_weights_md : dnnl_query_weights_md;
    }
    if (!ok) {
      if (pd != NULL && pd != forward_pd) dnnl_primitive_desc_destroy(pd);
      if (forward_pd != NULL) dnnl_primitive_desc_destroy(forward_pd);
      return 0;
    }
    const dnnl_memory_desc_t *shared = dnnl_primitive_desc_query_md(pd, shared_q, 0);
    const dnnl_memory_desc_t *image_md = dnnl_primitive_desc_query_md(pd, image_q, 0);
    const dnnl_memory_desc_t *weight_md = dnnl_primitive_desc_query_md(pd, weight_q, 0);
    ok = shared != NULL && image_md != NULL && weight_md != NULL && (p == 0 || dnnl_memory_desc_equal(shared, &shared_md));
    if (ok && p == 0) {
      shared_md = *shared;
      const char *impl = NULL;
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
      snprintf(e->impl, sizeof e->impl, "%s, %d phases%s", impl != NULL ? impl : "?", e->count, as_forward ? " as forward" : "");
      /* Only the forward pass writes the shared side; the others read dy from it. */
      const int shared_out = e->pass == DIRECT_CONVOLVE;
      ok = (shared_out ? make_reorder(&shared_md, &column_plain, &e->shared_reorder) : make_reorder(&column_plain, &shared_md, &e->shared_reorder)) &&
           dnnl_memory_create(&e->user_shared, &column_plain, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&e->shared, &shared_md, engine, DNNL_MEMORY_NONE) == dnnl_success;
      e->shared_bytes = blocked_bytes(e->shared_reorder, &shared_md);
    }
    /* The phase's own image side: read from the caller's view, or written to it. Its kernel: moved by
       move_phase_kernels, from where each of the caller's taps lands in it (flipped: dims [c, k, …], taps reversed). */
    long *along[4] = {NULL};
    ok = ok && dnnl_primitive_create(&part->conv, pd) == dnnl_success &&
         (e->pass == DIRECT_ADJOINT ? make_reorder(image_md, &image_view, &part->from_output) : make_reorder(&image_view, image_md, &part->to_input)) &&
         dnnl_memory_create(&part->user_input, &image_view, engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&part->input, image_md, engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&part->weights, weight_md, engine, DNNL_MEMORY_NONE) == dnnl_success && blocked_offsets(weight_md, along);
    if (ok) {
      part->along_k = along[as_forward ? 1 : 0], part->along_c = along[as_forward ? 0 : 1];
      part->weights_padded = 0;
      for (int d = 0; d < 4; d++) part->weights_padded |= weight_md->padded_dims[d] != weight_md->dims[d];
      for (long a = 0; a < ah.taps; a++)
        for (long b = 0; b < aw.taps; b++) {
          const long t = (ah.first_tap + sh * (as_forward ? ah.taps - 1 - a : a)) * g->kw + aw.first_tap + sw * (as_forward ? aw.taps - 1 - b : b);
          e->tap_phase[t] = p;
          e->tap_offset[t] = along[2][a] + along[3][b];
        }
      /* Views never equal a dense layout, so every phase copies its image side. */
      part->input_bytes = (dnnl_memory_desc_get_size(image_md) + 63) & ~(size_t)63;
      part->weights_bytes = (dnnl_memory_desc_get_size(weight_md) + 63) & ~(size_t)63;
    }
    if (pd != forward_pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(forward_pd);
  }
  if (!ok) return 0;
  for (long t = 0; t < taps; t++)
    if (e->tap_phase[t] < 0) return 0;
  e->interleave = 1;
  for (int p = 0; p < e->count; p++) {
    phase_part *part = &e->part[p];
    part->image_offset = e->images_bytes;
    e->images_bytes += part->input_bytes;
    part->weights_offset = e->kernels_bytes;
    e->kernels_bytes += part->weights_bytes;
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(part->input, &md);
    if (md == NULL || !act_layout_of(md, &part->image_layout)) e->interleave = 0;
  }
  return 1;
}

/* The channels that lie side by side at each position of a layout: all of them (nhwc), a block (aBcd16b), or 1 (nchw). */
static long channel_run(const act_layout *l, long channels) { return l->block == 1 ? (l->scb == 1 ? channels : 1) : l->block; }

/* Where phase `part` holds channel c of image n at its row i (then column j at + j·sw). */
static float *phase_row(const phase_part *part, char *rooms, long n, long c, long i) {
  const act_layout *l = &part->image_layout;
  return (float *)(rooms + part->image_offset) + n * l->sn + (c / l->block) * l->scb + c % l->block + i * l->sh;
}

/* One channel at a time: for layouts whose channels do not lie side by side. */
static void interleave_by_channel(const cached_phases *e, float *image, char *rooms, int to_phases) {
  const conv_geometry *g = &e->g;
  const long channels = g->c, h_size = g->h, w_size = g->w, sh = g->stride_h, sw = g->stride_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (long n = 0; n < g->n; n++) {
    for (long c = 0; c < channels; c++) {
      float *plane = image + (n * channels + c) * h_size * w_size;
      for (long h = 0; h < h_size; h++) {
        float *row = plane + h * w_size;
        for (long rw = 0; rw < sw && rw < w_size; rw++) {
          const phase_part *part = &e->part[(h % sh) * sw + rw];
          float *phase = phase_row(part, rooms, n, c, h / sh);
          const long count = (w_size - rw + sw - 1) / sw, step = part->image_layout.sw;
          if (to_phases) {
            for (long j = 0; j < count; j++) phase[j * step] = row[rw + j * sw];
          } else {
            for (long j = 0; j < count; j++) row[rw + j * sw] = phase[j * step];
          }
        }
      }
    }
  }
}

#define TILE_CHANNELS 16

/*
 * Between the caller's NCHW image and every phase's image side, in one pass: row h of plane (n, c)
 * holds phase rows h mod s_h, at row ⌊h/s_h⌋. to_phases: image → phases (the forward, the weight
 * gradient); else phases → image (the adjoint; the phases cover every position). 16 channels at
 * a time, through a tile of 16 image rows in cache: the image side is read and written a row at a
 * time, the phases 16 side-by-side channels (one cache line) at a time.
 */
static void interleave_phases(const cached_phases *e, float *image, char *rooms, int to_phases) {
  const conv_geometry *g = &e->g;
  const long channels = g->c, h_size = g->h, w_size = g->w, sh = g->stride_h, sw = g->stride_w;
  int tiled = channels % TILE_CHANNELS == 0;
  for (int p = 0; p < e->count; p++) tiled = tiled && channel_run(&e->part[p].image_layout, channels) % TILE_CHANNELS == 0;
  int failed = 0;
  if (tiled) {
#pragma omp parallel
    {
      float *tile = malloc(sizeof(float) * TILE_CHANNELS * (size_t)w_size);
      if (tile == NULL) {
#pragma omp atomic write
        failed = 1;
      }
#pragma omp for collapse(2) schedule(static)
      for (long n = 0; n < g->n; n++) {
        for (long c0 = 0; c0 < channels; c0 += TILE_CHANNELS) {
          if (tile == NULL) continue;
          float *planes = image + (n * channels + c0) * h_size * w_size;
          for (long h = 0; h < h_size; h++) {
            if (to_phases)
              for (int cc = 0; cc < TILE_CHANNELS; cc++) memcpy(tile + cc * w_size, planes + (cc * h_size + h) * w_size, sizeof(float) * (size_t)w_size);
            for (long rw = 0; rw < sw && rw < w_size; rw++) {
              const phase_part *part = &e->part[(h % sh) * sw + rw];
              float *phase = phase_row(part, rooms, n, c0, h / sh);
              const long count = (w_size - rw + sw - 1) / sw, step = part->image_layout.sw;
              for (long j = 0; j < count; j++) {
                float *at = phase + j * step, *column = tile + rw + j * sw;
                if (to_phases) {
                  for (int cc = 0; cc < TILE_CHANNELS; cc++) at[cc] = column[cc * w_size];
                } else {
                  for (int cc = 0; cc < TILE_CHANNELS; cc++) column[cc * w_size] = at[cc];
                }
              }
            }
            if (!to_phases)
              for (int cc = 0; cc < TILE_CHANNELS; cc++) memcpy(planes + (cc * h_size + h) * w_size, tile + cc * w_size, sizeof(float) * (size_t)w_size);
          }
        }
      }
      free(tile);
    }
  }
  /* Without a tile (or room for one): channel by channel, which writes every value again. */
  if (!tiled || failed) interleave_by_channel(e, image, rooms, to_phases);
}

/* A cache entry's phases: made with the entry's key, kept with it (lookup), its name copied to it. */
static int build_phase_entry(cached_conv *e) {
  cached_phases *phases = calloc(1, sizeof *phases);
  if (phases == NULL) return 0;
  e->phases = phases;
  phases->pass = e->pass, phases->layout = e->layout, phases->threads = e->threads, phases->k = e->k, phases->g = e->g;
  phases->ok = build_phases(phases);
  memcpy(e->impl, phases->impl, sizeof e->impl);
  return phases->ok;
}

static void destroy_phases(cached_phases *e) {
  for (int p = 0; p < MAX_PHASES; p++) {
    phase_part *part = &e->part[p];
    dnnl_primitive_t primitives[] = {part->conv, part->to_input, part->from_output};
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
      if (primitives[i] != NULL) dnnl_primitive_destroy(primitives[i]);
    dnnl_memory_t memories[] = {part->user_input, part->user_output, part->input, part->weights, part->output};
    for (size_t i = 0; i < sizeof memories / sizeof memories[0]; i++)
      if (memories[i] != NULL) dnnl_memory_destroy(memories[i]);
    /* blocked_offsets' one allocation starts at the table of the kernel's first dimension. */
    free(e->layout == DIRECT_PHASES_FORWARD ? part->along_c : part->along_k);
  }
  free(e->tap_phase);
  free(e->tap_offset);
  if (e->shared_reorder != NULL) dnnl_primitive_destroy(e->shared_reorder);
  if (e->user_shared != NULL) dnnl_memory_destroy(e->user_shared);
  if (e->shared != NULL) dnnl_memory_destroy(e->shared);
  free(e);
}

/* Arena room: the shared side, every phase's image side, every phase's kernel. */
static size_t phases_arena_need(const cached_phases *e) {
  return e == NULL ? 0 : e->shared_bytes + e->images_bytes + e->kernels_bytes;
}

#define TILE_KERNELS 16

/*
 * Between the caller's OIHW weights [k, c, kh, kw] and every phase's kernel, in one pass:
 * to_phases (the forward, the adjoint), else back (the weight gradient; the phases hold every
 * tap). Per tile of 16 × 16 channel pairs, whose weights stay in cache while each tap is moved,
 * along the channel that lies side by side in the phases' layouts. One pass instead of a strided
 * oneDNN reorder per phase: each of those reads (or rewrites) every cache line of the weights.
 */
static void move_phase_kernels(const cached_phases *e, float *weights, char *rooms, int to_phases) {
  const conv_geometry *g = &e->g;
  const long k = e->k, c = g->c, taps = (long)g->kh * g->kw;
  if (to_phases)
    for (int p = 0; p < e->count; p++)
      if (e->part[p].weights_padded) memset(rooms + e->part[p].weights_offset, 0, e->part[p].weights_bytes);
  /* Which channel to run along innermost: the one whose next index is the next float in phase 0's layout. */
  const int along_k = k > 1 && e->part[0].along_k[1] - e->part[0].along_k[0] == 1;
#pragma omp parallel for collapse(2) schedule(static) if (parallel : k * c * taps >= 65536)
  for (long k0 = 0; k0 < k; k0 += TILE_KERNELS) {
    for (long c0 = 0; c0 < c; c0 += TILE_KERNELS) {
      const long k1 = k0 + TILE_KERNELS < k ? k0 + TILE_KERNELS : k, c1 = c0 + TILE_KERNELS < c ? c0 + TILE_KERNELS : c;
      for (long t = 0; t < taps; t++) {
        const phase_part *part = &e->part[e->tap_phase[t]];
        float *kernel = (float *)(rooms + part->weights_offset) + e->tap_offset[t];
        if (along_k) {
          for (long ci = c0; ci < c1; ci++) {
            float *line = kernel + part->along_c[ci];
            float *w = weights + ci * taps + t;
            if (to_phases)
              for (long kk = k0; kk < k1; kk++) line[part->along_k[kk]] = w[kk * c * taps];
            else
              for (long kk = k0; kk < k1; kk++) w[kk * c * taps] = line[part->along_k[kk]];
          }
        } else {
          for (long kk = k0; kk < k1; kk++) {
            float *line = kernel + part->along_k[kk];
            float *w = weights + kk * c * taps + t;
            if (to_phases)
              for (long ci = c0; ci < c1; ci++) line[part->along_c[ci]] = w[ci * taps];
            else
              for (long ci = c0; ci < c1; ci++) w[ci * taps] = line[part->along_c[ci]];
          }
        }
      }
    }
  }
}

static int execute_phases(cached_phases *e, const float *input, const float *second, float *output) {
  const int forward = e->pass == DIRECT_CONVOLVE, as_forward = e->layout == DIRECT_PHASES_FORWARD;
  /* The column side: the forward's output, or the adjoint's and weight gradient's dy. */
  void *columns = forward ? (void *)output : e->pass == DIRECT_ADJOINT ? (void *)input : (void *)second;
  char *rooms = arena + e->shared_bytes, *kernels = rooms + e->images_bytes;
  int ok = dnnl_memory_set_data_handle(e->user_shared, columns) == dnnl_success &&
           dnnl_memory_set_data_handle(e->shared, e->shared_reorder != NULL ? (void *)arena : columns) == dnnl_success;
  if (ok && !forward && e->shared_reorder != NULL)
    ok = run(e->shared_reorder, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, e->user_shared}, {DNNL_ARG_TO, e->shared}});
  /* The image and the weights: read (convolve), written (adjoint: image; weights: weights). */
  const float *image = e->pass == DIRECT_ADJOINT ? output : input;
  float *weights = e->pass == DIRECT_WEIGHTS ? output : (float *)second;
  if (ok) ok = dnnl_stream_wait(stream) == dnnl_success;
  if (ok && e->interleave && e->pass != DIRECT_ADJOINT) interleave_phases(e, (float *)image, rooms, 1);
  if (ok && e->pass != DIRECT_WEIGHTS) move_phase_kernels(e, weights, kernels, 1);
  for (int p = 0; ok && p < e->count; p++) {
    phase_part *part = &e->part[p];
    ok = dnnl_memory_set_data_handle(part->user_input, (void *)(image + part->input_offset)) == dnnl_success &&
         dnnl_memory_set_data_handle(part->input, rooms + part->image_offset) == dnnl_success &&
         dnnl_memory_set_data_handle(part->weights, kernels + part->weights_offset) == dnnl_success;
    if (ok && part->to_input != NULL && !e->interleave) ok = run(part->to_input, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, part->user_input}, {DNNL_ARG_TO, part->input}});
    if (ok) {
      const dnnl_exec_arg_t forward_args[3] = {{DNNL_ARG_SRC, part->input}, {DNNL_ARG_WEIGHTS, part->weights}, {DNNL_ARG_DST, e->shared}};
      const dnnl_exec_arg_t adjoint_args[3] = {{DNNL_ARG_DIFF_DST, e->shared}, {DNNL_ARG_WEIGHTS, part->weights}, {DNNL_ARG_DIFF_SRC, part->input}};
      const dnnl_exec_arg_t weight_args[3] = {{DNNL_ARG_SRC, part->input}, {DNNL_ARG_DIFF_DST, e->shared}, {DNNL_ARG_DIFF_WEIGHTS, part->weights}};
      const dnnl_exec_arg_t flipped_args[3] = {{DNNL_ARG_SRC, e->shared}, {DNNL_ARG_WEIGHTS, part->weights}, {DNNL_ARG_DST, part->input}};
      ok = run(part->conv, 3, as_forward ? flipped_args : forward ? forward_args : e->pass == DIRECT_ADJOINT ? adjoint_args : weight_args);
    }
    if (ok && part->from_output != NULL && !e->interleave)
      ok = run(part->from_output, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, part->input}, {DNNL_ARG_TO, part->user_input}});
  }
  if (ok) ok = dnnl_stream_wait(stream) == dnnl_success;
  if (ok && e->interleave && e->pass == DIRECT_ADJOINT) interleave_phases(e, (float *)image, rooms, 0);
  if (ok && e->pass == DIRECT_WEIGHTS) move_phase_kernels(e, weights, kernels, 0);
  if (ok && forward && e->shared_reorder != NULL)
    ok = run(e->shared_reorder, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, e->shared}, {DNNL_ARG_TO, e->user_shared}});
  return ok && dnnl_stream_wait(stream) == dnnl_success;
}

const char *native_direct_conv_impl(int pass, int layout, const conv_geometry *g, int k) {
  const char *impl = NULL;
  if (ours_impl(layout, g, k, &impl)) return impl;
  if (layout < DIRECT_BLOCKED || layout > DIRECT_PHASES_FORWARD || !ensure_engine()) return NULL;
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

int native_direct_conv(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output) {
  int done = 0;
  return ours_conv(pass, layout, g, k, input, second, output, &done) && done;
}
const char *native_direct_conv_impl(int pass, int layout, const conv_geometry *g, int k) {
  const char *impl = NULL;
  return ours_impl(layout, g, k, &impl) ? impl : NULL;
}
const char *native_direct_conv_library(void) { return NULL; }

#endif

int native_direct_conv_rectified(int pass, int layout, const conv_geometry *g, int k, const float *input, const float *second, float *output,
                                 float slope, const float *activated) {
  return layout == DIRECT_IMAGE && !isnan(slope) && native_image_conv(pass, g, k, input, second, output, slope, activated);
}
