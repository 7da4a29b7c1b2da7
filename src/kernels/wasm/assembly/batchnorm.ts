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

export function batchNormApply(
  tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32,
  mean: usize, invStd: usize, gamma: usize, beta: usize, y: usize,
): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  for (let ch = c0; ch < c1; ch++) {
    const scale = load<f32>(at(invStd, ch)) * (gamma == 0 ? <f32>1 : load<f32>(at(gamma, ch)));
    const shift = (beta == 0 ? <f32>0 : load<f32>(at(beta, ch))) - load<f32>(at(mean, ch)) * scale;
    const vs = f32x4.splat(scale);
    const vt = f32x4.splat(shift);
    for (let img = 0; img < n; img++) {
      const src = at(x, (img * c + ch) * hw);
      const dst = at(y, (img * c + ch) * hw);
      let i = 0;
      for (; i + 4 <= hw; i += 4) v128.store(dst + (<usize>i << 2), f32x4.add(f32x4.mul(v128.load(src + (<usize>i << 2)), vs), vt));
      for (; i < hw; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)) * scale + shift);
    }
  }
}

/** Pointers of 0 mean "absent" (no gamma; gradient not wanted). */
export function batchNormBackward(
  tid: i32, nthreads: i32, x: usize, dy: usize, n: i32, c: i32, hw: i32,
  mean: usize, invStd: usize, gamma: usize, batchStats: i32, dx: usize, dgamma: usize, dbeta: usize,
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
      const bx = at(x, (img * c + ch) * hw);
      const bd = at(dy, (img * c + ch) * hw);
      for (let i = 0; i < hw; i++) {
        const g = <f64>load<f32>(bd + (<usize>i << 2));
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
      const bx = at(x, (img * c + ch) * hw);
      const bd = at(dy, (img * c + ch) * hw);
      const bo = at(dx, (img * c + ch) * hw);
      for (let i = 0; i < hw; i++) {
        const xhat = (load<f32>(bx + (<usize>i << 2)) - mu) * is;
        store<f32>(bo + (<usize>i << 2), k * (load<f32>(bd + (<usize>i << 2)) - meanDy - xhat * meanDyXhat));
      }
    }
  }
}
