// Batch normalisation over x [n, c, hw], split over channels. Sums are in float64, of runs of 32
// values that are first summed in float lanes (eight values each, so each float rounding is of a
// short sum; the kernel tests hold these to the reference within 1e-6 relative).
import { at, share } from './common';

/** The low and high two floats of a f32x4, as f64x2. */
@inline function low(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function high(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** Adds a f32x4 of partial sums to two f64x2 accumulators (lanes 0–1 and 2–3). */
@inline function widen(acc: v128, v: v128): v128 {
  return f64x2.add(acc, f64x2.add(low(v), high(v)));
}

/**
 * One row's sum and its squared deviations from the row's own mean, both passes while the row is
 * still in cache (so memory is read once), merged into the channel's running moments by Chan et
 * al.'s formula, as the native backend does: the variance of values far from zero stays exact.
 * Within a row, runs of 32 values are summed in float lanes (each lane adds 8), then in double:
 * float64 for every value made these kernels twice as slow as memory.
 */
export function batchNormStats(tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32, mean: usize, variance: usize): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  const rowCount = <f64>hw;
  for (let ch = c0; ch < c1; ch++) {
    let count: f64 = 0, mu: f64 = 0, m2: f64 = 0;
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      let s: f64 = 0;
      let acc = f64x2.splat(0);
      let i = 0;
      for (; i + 32 <= hw; i += 32) {
        const p = base + (<usize>i << 2);
        const a = f32x4.add(f32x4.add(v128.load(p), v128.load(p, 16)), f32x4.add(v128.load(p, 32), v128.load(p, 48)));
        const b = f32x4.add(f32x4.add(v128.load(p, 64), v128.load(p, 80)), f32x4.add(v128.load(p, 96), v128.load(p, 112)));
        acc = widen(acc, f32x4.add(a, b));
      }
      let rest = f32x4.splat(0);
      for (; i + 4 <= hw; i += 4) rest = f32x4.add(rest, v128.load(base + (<usize>i << 2)));
      acc = widen(acc, rest);
      for (; i < hw; i++) s += <f64>load<f32>(base + (<usize>i << 2));
      const rowMean = (s + f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1)) / rowCount;
      let sq: f64 = 0;
      let q = f64x2.splat(0);
      const centre = <f32>rowMean, vc = f32x4.splat(centre);
      i = 0;
      for (; i + 32 <= hw; i += 32) {
        const p = base + (<usize>i << 2);
        let t = f32x4.splat(0);
        for (let j: usize = 0; j < 128; j += 16) {
          const d = f32x4.sub(v128.load(p + j), vc);
          t = f32x4.add(t, f32x4.mul(d, d));
        }
        q = widen(q, t);
      }
      let restSq = f32x4.splat(0);
      for (; i + 4 <= hw; i += 4) {
        const d = f32x4.sub(v128.load(base + (<usize>i << 2)), vc);
        restSq = f32x4.add(restSq, f32x4.mul(d, d));
      }
      q = widen(q, restSq);
      for (; i < hw; i++) {
        const d = <f64>load<f32>(base + (<usize>i << 2)) - <f64>centre;
        sq += d * d;
      }
      // Deviations from the float centre: the row's m2 about its mean is that, less (mean − centre)².
      const off = rowMean - <f64>centre;
      const rowM2 = sq + f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1) - rowCount * off * off;
      const merged = count + rowCount, delta = rowMean - mu;
      mu += delta * (rowCount / merged);
      m2 += rowM2 + delta * delta * (count * rowCount / merged);
      count = merged;
    }
    store<f32>(at(mean, ch), <f32>mu);
    store<f32>(at(variance, ch), <f32>(m2 / count));
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
    // Runs of 32 values summed in float lanes (8 each), then in double, as in batchNormStats.
    let sums = f64x2.splat(0), tilts = f64x2.splat(0);
    for (let img = 0; img < n; img++) {
      const offset = (img * c + ch) * hw;
      const bx = at(x, offset);
      const bd = at(dy, offset);
      let i = 0;
      while (i + 4 <= hw) {
        const end = min(hw & ~3, i + 32);
        let runDy = f32x4.splat(0), runDyXhat = f32x4.splat(0);
        for (; i < end; i += 4) {
          const g = gradLanes(bd, bx, rectify, slope, vslope, vs, vt, i);
          const xhat = f32x4.mul(f32x4.sub(v128.load(bx + (<usize>i << 2)), vmu), vis);
          runDy = f32x4.add(runDy, g);
          runDyXhat = f32x4.add(runDyXhat, f32x4.mul(g, xhat));
        }
        sums = widen(sums, runDy);
        tilts = widen(tilts, runDyXhat);
      }
      for (; i < hw; i++) {
        const g = <f64>gradAt(bd, bx, rectify, slope, scale, shift, i);
        sumDy += g;
        sumDyXhat += g * <f64>((load<f32>(bx + (<usize>i << 2)) - mu) * is);
      }
    }
    sumDy += f64x2.extract_lane(sums, 0) + f64x2.extract_lane(sums, 1);
    sumDyXhat += f64x2.extract_lane(tilts, 0) + f64x2.extract_lane(tilts, 1);
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
