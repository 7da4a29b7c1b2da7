// Batch normalisation over x [n, c, hw], split over channels; statistics in float64.
import { at, share } from './common';

export function batchNormStats(tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32, mean: usize, variance: usize): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const count = <f64>(n * hw);
  for (let ch = c0; ch < c1; ch++) {
    let s: f64 = 0;
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      for (let i = 0; i < hw; i++) s += <f64>load<f32>(base + (<usize>i << 2));
    }
    const mu = s / count;
    let sq: f64 = 0;
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      for (let i = 0; i < hw; i++) {
        const d = <f64>load<f32>(base + (<usize>i << 2)) - mu;
        sq += d * d;
      }
    }
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
    const scale = load<f32>(at(invStd, ch)) * (gamma == 0 ? <f32>1 : load<f32>(at(gamma, ch)));
    const shift = (beta == 0 ? <f32>0 : load<f32>(at(beta, ch))) - load<f32>(at(mean, ch)) * scale;
    const vs = f32x4.splat(scale);
    const vt = f32x4.splat(shift);
    for (let img = 0; img < n; img++) {
      const src = at(x, (img * c + ch) * hw);
      const dst = at(y, (img * c + ch) * hw);
      let i = 0;
      if (rectifier) {
        for (; i + 4 <= hw; i += 4) {
          const v = f32x4.add(f32x4.mul(v128.load(src + (<usize>i << 2)), vs), vt);
          v128.store(dst + (<usize>i << 2), v128.bitselect(v, f32x4.mul(v, vslope), positiveLanes(v, relu)));
        }
        for (; i < hw; i++) store<f32>(dst + (<usize>i << 2), rectify(load<f32>(src + (<usize>i << 2)) * scale + shift, slope));
      } else {
        for (; i + 4 <= hw; i += 4) v128.store(dst + (<usize>i << 2), f32x4.add(f32x4.mul(v128.load(src + (<usize>i << 2)), vs), vt));
        for (; i < hw; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)) * scale + shift);
      }
    }
  }
}

/** dy through the rectifier whose output is `rectified` (0: none). */
@inline function gradAt(dy: usize, rectified: usize, slope: f32, i: i32): f32 {
  const g = load<f32>(dy + (<usize>i << 2));
  return rectified == 0 ? g : rectifyGrad(load<f32>(rectified + (<usize>i << 2)), g, slope);
}

/** Pointers of 0 mean "absent" (no gamma; gradient not wanted; no rectifier). */
export function batchNormBackward(
  tid: i32, nthreads: i32, x: usize, dy: usize, n: i32, c: i32, hw: i32,
  mean: usize, invStd: usize, gamma: usize, batchStats: i32, dx: usize, dgamma: usize, dbeta: usize,
  rectified: usize, slope: f32,
): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const count = <f64>(n * hw);
  for (let ch = c0; ch < c1; ch++) {
    const mu = load<f32>(at(mean, ch));
    const is = load<f32>(at(invStd, ch));
    let sumDy: f64 = 0;
    let sumDyXhat: f64 = 0;
    for (let img = 0; img < n; img++) {
      const offset = (img * c + ch) * hw;
      const bx = at(x, offset);
      const bd = at(dy, offset);
      const br = rectified == 0 ? 0 : at(rectified, offset);
      for (let i = 0; i < hw; i++) {
        const g = <f64>gradAt(bd, br, slope, i);
        sumDy += g;
        sumDyXhat += g * <f64>((load<f32>(bx + (<usize>i << 2)) - mu) * is);
      }
    }
    if (dgamma != 0) store<f32>(at(dgamma, ch), <f32>sumDyXhat);
    if (dbeta != 0) store<f32>(at(dbeta, ch), <f32>sumDy);
    if (dx == 0) continue;
    const k = is * (gamma == 0 ? <f32>1 : load<f32>(at(gamma, ch)));
    const meanDy = batchStats != 0 ? <f32>(sumDy / count) : <f32>0;
    const meanDyXhat = batchStats != 0 ? <f32>(sumDyXhat / count) : <f32>0;
    for (let img = 0; img < n; img++) {
      const offset = (img * c + ch) * hw;
      const bx = at(x, offset);
      const bd = at(dy, offset);
      const br = rectified == 0 ? 0 : at(rectified, offset);
      const bo = at(dx, offset);
      for (let i = 0; i < hw; i++) {
        const xhat = (load<f32>(bx + (<usize>i << 2)) - mu) * is;
        store<f32>(bo + (<usize>i << 2), k * (gradAt(bd, br, slope, i) - meanDy - xhat * meanDyXhat));
      }
    }
  }
}
