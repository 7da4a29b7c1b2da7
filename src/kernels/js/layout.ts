import { stridesOf, type Shape } from '../../tensor/shape.js';

/** Sums over the given axes by walking x once and mapping each index to its output slot. */
export function reduceSum(x: Float32Array, shape: Shape, axes: readonly number[], out: Float32Array): void {
  const rank = shape.length;
  const reduced = new Array<boolean>(rank).fill(false);
  for (const a of axes) reduced[a] = true;
  const outShape = shape.filter((_, i) => !reduced[i]);
  const outStrides = stridesOf(outShape);
  // Stride in `out` of each input axis (0 for reduced axes).
  const step = new Array<number>(rank).fill(0);
  for (let i = 0, j = 0; i < rank; i++) if (!reduced[i]) step[i] = outStrides[j++]!;
  const acc = new Float64Array(out.length);
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < x.length; i++) {
    acc[o]! += x[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      o += step[d]!;
      if (idx[d]! < shape[d]!) break;
      o -= step[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i]!;
}

export function permute(x: Float32Array, shape: Shape, perm: readonly number[], out: Float32Array): void {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const step = perm.map((p) => inStrides[p]!);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = x[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += step[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= step[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export function channelSum(x: Float32Array, n: number, c: number, hw: number, out: Float32Array): void {
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let img = 0; img < n; img++) {
      const base = (img * c + ch) * hw;
      for (let i = 0; i < hw; i++) s += x[base + i]!;
    }
    out[ch] = s;
  }
}

export function addChannelBias(y: Float32Array, n: number, c: number, hw: number, bias: Float32Array): void {
  for (let img = 0; img < n; img++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (img * c + ch) * hw;
      const b = bias[ch]!;
      for (let i = 0; i < hw; i++) y[base + i]! += b;
    }
  }
}
