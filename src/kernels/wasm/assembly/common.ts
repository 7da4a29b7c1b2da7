// Shared helpers for the kernels. Every kernel takes (tid, nthreads) first and does its
// share of the work, so the same export runs on the main thread and in each worker.

/** Start of thread `tid`'s share of `total` items (balanced split). */
@inline export function share(total: i32, tid: i32, nthreads: i32): i32 {
  return <i32>((<i64>total * <i64>tid) / <i64>nthreads);
}

/** Fused multiply-add where the engine has relaxed SIMD, otherwise multiply then add. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

@inline export function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}
