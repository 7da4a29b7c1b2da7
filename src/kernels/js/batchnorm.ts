/** Batch normalisation over x laid out [n, c, hw]; statistics accumulate in float64. */
import type { FusedRectifier } from '../backend.js';
import { unary, unaryBackward } from './elementwise.js';

export function batchNormStats(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void {
  const count = n * hw;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) s += x[base + i]!;
    }
    const mu = s / count;
    // Two passes: the variance of values far from zero stays exact.
    let sq = 0;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const d = x[base + i]! - mu;
        sq += d * d;
      }
    }
    mean[ch] = mu;
    variance[ch] = sq / count;
  }
}

export function batchNormApply(
  x: Float32Array, n: number, c: number, hw: number,
  mean: Float32Array, invStd: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
  rectifierSlope: number | null = null,
): void {
  normalise(x, n, c, hw, mean, invStd, gamma, beta, y);
  // The reference rectifies in a second pass with the elementwise kernel itself: the fused kernels must agree with it.
  if (rectifierSlope !== null) unary(rectifierSlope === 0 ? 'relu' : 'leakyRelu', y, y, rectifierSlope);
}

export function batchNormBackward(
  x: Float32Array, dy: Float32Array, n: number, c: number, hw: number,
  mean: Float32Array, invStd: Float32Array, gamma: Float32Array | null, batchStats: boolean,
  dx: Float32Array | null, dgamma: Float32Array | null, dbeta: Float32Array | null,
  rectifier: FusedRectifier | null = null,
): void {
  let dNormalised = dy;
  if (rectifier !== null) {
    // The rectifier's derivative at the values batchNormApply computed, computed again.
    const v = new Float32Array(x.length);
    normalise(x, n, c, hw, mean, invStd, gamma, rectifier.beta, v);
    dNormalised = new Float32Array(dy.length);
    unaryBackward(rectifier.slope === 0 ? 'relu' : 'leakyRelu', v, v, dy, dNormalised, rectifier.slope);
  }
  const count = n * hw;
  for (let ch = 0; ch < c; ch++) {
    const mu = mean[ch]!;
    const is = invStd[ch]!;
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const g = dNormalised[base + i]!;
        sumDy += g;
        sumDyXhat += g * (x[base + i]! - mu) * is;
      }
    }
    if (dgamma !== null) dgamma[ch] = sumDyXhat;
    if (dbeta !== null) dbeta[ch] = sumDy;
    if (dx === null) continue;
    const k = is * (gamma === null ? 1 : gamma[ch]!);
    // Training: the batch mean and variance depend on x, which adds the two correction terms.
    const meanDy = batchStats ? sumDy / count : 0;
    const meanDyXhat = batchStats ? sumDyXhat / count : 0;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const xhat = (x[base + i]! - mu) * is;
        dx[base + i] = k * (dNormalised[base + i]! - meanDy - xhat * meanDyXhat);
      }
    }
  }
}

/** y = (x − mean)·invStd·gamma + beta per channel, as scale and shift: batchNormApply's values before any rectifier. */
function normalise(
  x: Float32Array, n: number, c: number, hw: number,
  mean: Float32Array, invStd: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
): void {
  for (let ch = 0; ch < c; ch++) {
    const scale = invStd[ch]! * (gamma === null ? 1 : gamma[ch]!);
    const shift = (beta === null ? 0 : beta[ch]!) - mean[ch]! * scale;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) y[base + i] = x[base + i]! * scale + shift;
    }
  }
}
