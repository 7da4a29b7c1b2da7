// Optimizer updates, in place, split over elements. Same float32 rounding steps as PyTorch's Adam.
import { at, share } from './common';

/** f32(f64(v) · s) lane by lane: each half widened, scaled in double, rounded back. */
@inline function scaledInDouble(v: v128, s: v128): v128 {
  const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v), s));
  const hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), s));
  return v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
}

/** f32(f32(f64(v) / d) + e) lane by lane, as the scalar expression below rounds it. */
@inline function denominator(v: v128, d: v128, e: v128): v128 {
  const lo = f32x4.demote_f64x2_zero(f64x2.add(f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.div(f64x2.promote_low_f32x4(v), d))), e));
  const vh = v128.shuffle<f32>(v, v, 2, 3, 0, 1);
  const hi = f32x4.demote_f64x2_zero(f64x2.add(f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.div(f64x2.promote_low_f32x4(vh), d))), e));
  return v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
}

export function adamUpdate(
  tid: i32, nthreads: i32, param: usize, grad: usize, m: usize, v: usize, n: i32,
  beta1: f32, beta2: f32, oneMinusBeta1: f32, oneMinusBeta2: f32, eps: f64, weightDecay: f64, stepSize: f64, bc2Sqrt: f64,
): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  let i = lo;
  // Four at a time: the same operations lane by lane (IEEE float and double, the same roundings).
  const vb1 = f32x4.splat(beta1), vb2 = f32x4.splat(beta2), va1 = f32x4.splat(oneMinusBeta1), va2 = f32x4.splat(oneMinusBeta2);
  const vwd = f64x2.splat(weightDecay), vstep = f64x2.splat(stepSize), vbc = f64x2.splat(bc2Sqrt), veps = f64x2.splat(eps);
  for (; i + 4 <= hi; i += 4) {
    const p = v128.load(at(param, i));
    let g = v128.load(at(grad, i));
    if (weightDecay != 0) g = f32x4.add(g, scaledInDouble(p, vwd));
    const mi = f32x4.add(f32x4.mul(v128.load(at(m, i)), vb1), f32x4.mul(va1, g));
    const vi = f32x4.add(f32x4.mul(v128.load(at(v, i)), vb2), f32x4.mul(va2, f32x4.mul(g, g)));
    v128.store(at(m, i), mi);
    v128.store(at(v, i), vi);
    const denom = denominator(f32x4.sqrt(vi), vbc, veps);
    v128.store(at(param, i), f32x4.sub(p, scaledInDouble(f32x4.div(mi, denom), vstep)));
  }
  for (; i < hi; i++) {
    const p = load<f32>(at(param, i));
    let g = load<f32>(at(grad, i));
    if (weightDecay != 0) g = g + <f32>(weightDecay * <f64>p);
    const mi = load<f32>(at(m, i)) * beta1 + oneMinusBeta1 * g;
    const vi = load<f32>(at(v, i)) * beta2 + oneMinusBeta2 * (g * g);
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    // Rounded to float32 after each tensor op, as PyTorch's foreach-free Adam does.
    const denom = <f32>(<f64><f32>(<f64>Mathf.sqrt(vi) / bc2Sqrt) + eps);
    store<f32>(at(param, i), p - <f32>(stepSize * <f64>(mi / denom)));
  }
}
