// Batch normalisation over x [n, c, hw], split over channels; statistics in float64, four
// values at a time in two f64x2 lanes each (the sums' order changes, not what is summed).
import { at, share } from './common';

/** The low and high two floats of a f32x4, as f64x2. */
@inline function low(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function high(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}
@inline function total(a: v128, b: v128): f64 {
  const s = f64x2.add(a, b);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

export function batchNormStats(tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32, mean: usize, variance: usize): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const count = <f64>(n * hw);
  for (let ch = c0; ch < c1; ch++) {
    let s: f64 = 0;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const v = v128.load(base + (<usize>i << 2));
        s0 = f64x2.add(s0, low(v));
        s1 = f64x2.add(s1, high(v));
      }
      for (; i < hw; i++) s += <f64>load<f32>(base + (<usize>i << 2));
    }
    const mu = (s + total(s0, s1)) / count;
    let sq: f64 = 0;
    let q0 = f64x2.splat(0), q1 = f64x2.splat(0);
    const vmu = f64x2.splat(mu);
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const v = v128.load(base + (<usize>i << 2));
        const d0 = f64x2.sub(low(v), vmu);
        const d1 = f64x2.sub(high(v), vmu);
        q0 = f64x2.add(q0, f64x2.mul(d0, d0));
        q1 = f64x2.add(q1, f64x2.mul(d1, d1));
      }
      for (; i < hw; i++) {
        const d = <f64>load<f32>(base + (<usize>i << 2)) - mu;
        sq += d * d;
      }
    }
    sq += total(q0, q1);
    store<f32>(at(mean, ch), <f32>mu);
    store<f32>(at(variance, ch), <f32>(sq / count));
  }
}

// A ReLU (slope 0) or LeakyReLU after the normalisation, as unary/unaryBackward in
// elementwise.ts compute them (same lanes, same tests): positive where v > 0 (ReLU: not v <= 0, so NaN passes).
@inline function positiveLanes(v: v128, relu: bool): v128 {
  const zero = f32x4.splat(0);
  return relu ? v128.not(f32x4.le(v, zero)) : f32x4.gt(v, zero);
}
@inline function rectify(v: f32, slope: f32): f32 {
  return slope == 0 ? (v <= 0 ? 0 : v) : (v > 0 ? v : slope * v);
}
@inline function rectifyGrad(y: f32, g: f32, slope: f32): f32 {
  return slope == 0 ? (y <= 0 ? 0 : g) : (y > 0 ? g : slope * g);
}

/** The apply's scale and shift for channel ch: the backward computes each value before the rectifier again with them. */
@inline function scaleOf(invStd: usize, gamma: usize, ch: i32): f32 {
  return load<f32>(at(invStd, ch)) * (gamma == 0 ? <f32>1 : load<f32>(at(gamma, ch)));
}
@inline function shiftOf(mean: usize, beta: usize, ch: i32, scale: f32): f32 {
  return (beta == 0 ? <f32>0 : load<f32>(at(beta, ch))) - load<f32>(at(mean, ch)) * scale;
}
@inline function normalisedLanes(x: v128, vs: v128, vt: v128): v128 {
  return f32x4.add(f32x4.mul(x, vs), vt);
}

/** rectifierSlope NaN: no rectifier. */
export function batchNormApply(
  tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32,
  mean: usize, invStd: usize, gamma: usize, beta: usize, y: usize, rectifierSlope: f32,
): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const rectifier = !isNaN(rectifierSlope);
  const slope: f32 = rectifier ? rectifierSlope : 0;
  const relu = slope == 0;
  const vslope = f32x4.splat(slope);
  for (let ch = c0; ch < c1; ch++) {
    const scale = scaleOf(invStd, gamma, ch);
    const shift = shiftOf(mean, beta, ch, scale);
    const vs = f32x4.splat(scale);
    const vt = f32x4.splat(shift);
    for (let img = 0; img < n; img++) {
      const src = at(x, (img * c + ch) * hw);
      const dst = at(y, (img * c + ch) * hw);
      let i = 0;
      if (rectifier) {
        for (; i + 4 <= hw; i += 4) {
          const v = normalisedLanes(v128.load(src + (<usize>i << 2)), vs, vt);
          v128.store(dst + (<usize>i << 2), v128.bitselect(v, f32x4.mul(v, vslope), positiveLanes(v, relu)));
        }
        for (; i < hw; i++) store<f32>(dst + (<usize>i << 2), rectify(load<f32>(src + (<usize>i << 2)) * scale + shift, slope));
      } else {
        for (; i + 4 <= hw; i += 4) v128.store(dst + (<usize>i << 2), normalisedLanes(v128.load(src + (<usize>i << 2)), vs, vt));
        for (; i < hw; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)) * scale + shift);
      }
    }
  }
}

/** dy through the rectifier (if any), whose derivative is taken at the apply's value x·scale + shift, computed again. */
@inline function gradAt(dy: usize, x: usize, rectify: bool, slope: f32, scale: f32, shift: f32, i: i32): f32 {
  const g = load<f32>(dy + (<usize>i << 2));
  return rectify ? rectifyGrad(load<f32>(x + (<usize>i << 2)) * scale + shift, g, slope) : g;
}

/** Four lanes of gradAt (ReLU: 0 where the value <= 0, exactly, whatever dy is). */
@inline function gradLanes(dy: usize, x: usize, rectify: bool, slope: f32, vslope: v128, vs: v128, vt: v128, i: i32): v128 {
  const g = v128.load(dy + (<usize>i << 2));
  if (!rectify) return g;
  const v = normalisedLanes(v128.load(x + (<usize>i << 2)), vs, vt);
  const relu = slope == 0;
  return v128.bitselect(g, relu ? f32x4.splat(0) : f32x4.mul(g, vslope), positiveLanes(v, relu));
}

/** Pointers of 0 mean "absent" (no gamma or beta; gradient not wanted); rectifierSlope NaN: no rectifier. */
export function batchNormBackward(
  tid: i32, nthreads: i32, x: usize, dy: usize, n: i32, c: i32, hw: i32,
  mean: usize, invStd: usize, gamma: usize, batchStats: i32, dx: usize, dgamma: usize, dbeta: usize,
  beta: usize, rectifierSlope: f32,
): void {
  const rectify = !isNaN(rectifierSlope);
  const slope: f32 = rectify ? rectifierSlope : 0;
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const count = <f64>(n * hw);
  const vslope = f32x4.splat(slope);
  for (let ch = c0; ch < c1; ch++) {
    const mu = load<f32>(at(mean, ch));
    const is = load<f32>(at(invStd, ch));
    const vmu = f32x4.splat(mu);
    const vis = f32x4.splat(is);
    const scale = scaleOf(invStd, gamma, ch);
    const shift = shiftOf(mean, beta, ch, scale);
    const vs = f32x4.splat(scale), vt = f32x4.splat(shift);
    let sumDy: f64 = 0;
    let sumDyXhat: f64 = 0;
    let d0 = f64x2.splat(0), d1 = f64x2.splat(0), h0 = f64x2.splat(0), h1 = f64x2.splat(0);
    for (let img = 0; img < n; img++) {
      const offset = (img * c + ch) * hw;
      const bx = at(x, offset);
      const bd = at(dy, offset);
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const g = gradLanes(bd, bx, rectify, slope, vslope, vs, vt, i);
        const xhat = f32x4.mul(f32x4.sub(v128.load(bx + (<usize>i << 2)), vmu), vis);
        const g0 = low(g), g1 = high(g);
        d0 = f64x2.add(d0, g0);
        d1 = f64x2.add(d1, g1);
        h0 = f64x2.add(h0, f64x2.mul(g0, low(xhat)));
        h1 = f64x2.add(h1, f64x2.mul(g1, high(xhat)));
      }
      for (; i < hw; i++) {
        const g = <f64>gradAt(bd, bx, rectify, slope, scale, shift, i);
        sumDy += g;
        sumDyXhat += g * <f64>((load<f32>(bx + (<usize>i << 2)) - mu) * is);
      }
    }
    sumDy += total(d0, d1);
    sumDyXhat += total(h0, h1);
    if (dgamma != 0) store<f32>(at(dgamma, ch), <f32>sumDyXhat);
    if (dbeta != 0) store<f32>(at(dbeta, ch), <f32>sumDy);
    if (dx == 0) continue;
    const k = is * (gamma == 0 ? <f32>1 : load<f32>(at(gamma, ch)));
    const meanDy = batchStats != 0 ? <f32>(sumDy / count) : <f32>0;
    const meanDyXhat = batchStats != 0 ? <f32>(sumDyXhat / count) : <f32>0;
    const vk = f32x4.splat(k), vMeanDy = f32x4.splat(meanDy), vMeanDyXhat = f32x4.splat(meanDyXhat);
    for (let img = 0; img < n; img++) {
      const offset = (img * c + ch) * hw;
      const bx = at(x, offset);
      const bd = at(dy, offset);
      const bo = at(dx, offset);
      let i = 0;
      for (; i + 4 <= hw; i += 4) {
        const xhat = f32x4.mul(f32x4.sub(v128.load(bx + (<usize>i << 2)), vmu), vis);
        const g = gradLanes(bd, bx, rectify, slope, vslope, vs, vt, i);
        v128.store(bo + (<usize>i << 2), f32x4.mul(vk, f32x4.sub(f32x4.sub(g, vMeanDy), f32x4.mul(xhat, vMeanDyXhat))));
      }
      for (; i < hw; i++) {
        const xhat = (load<f32>(bx + (<usize>i << 2)) - mu) * is;
        store<f32>(bo + (<usize>i << 2), k * (gradAt(bd, bx, rectify, slope, scale, shift, i) - meanDy - xhat * meanDyXhat));
      }
    }
  }
}
