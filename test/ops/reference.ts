/**
 * Float64 reference implementations written straight from the definitions (no im2col, no
 * GEMM), used both as forward ground truth and to take accurate finite differences.
 */

export interface ConvRefSpec {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  padding: number;
  outputPadding?: number;
}

export function convOutSize(s: ConvRefSpec): [number, number] {
  return [Math.floor((s.h + 2 * s.padding - s.kh) / s.stride) + 1, Math.floor((s.w + 2 * s.padding - s.kw) / s.stride) + 1];
}

/** y[n,o,oy,ox] = b[o] + Σ x[n,c,oy·s−p+ky, ox·s−p+kx]·w[o,c,ky,kx]. */
export function conv2dRef(s: ConvRefSpec, x: Float64Array, w: Float64Array, b: Float64Array | null): Float64Array {
  const [oh, ow] = convOutSize(s);
  const y = new Float64Array(s.n * s.cout * oh * ow);
  for (let n = 0; n < s.n; n++)
    for (let o = 0; o < s.cout; o++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = b ? b[o]! : 0;
          for (let c = 0; c < s.cin; c++)
            for (let ky = 0; ky < s.kh; ky++)
              for (let kx = 0; kx < s.kw; kx++) {
                const iy = oy * s.stride - s.padding + ky;
                const ix = ox * s.stride - s.padding + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc += x[((n * s.cin + c) * s.h + iy) * s.w + ix]! * w[((o * s.cin + c) * s.kh + ky) * s.kw + kx]!;
              }
          y[((n * s.cout + o) * oh + oy) * ow + ox] = acc;
        }
  return y;
}

export function convTransposeOutSize(s: ConvRefSpec): [number, number] {
  const op = s.outputPadding ?? 0;
  return [(s.h - 1) * s.stride - 2 * s.padding + s.kh + op, (s.w - 1) * s.stride - 2 * s.padding + s.kw + op];
}

/** Every input pixel scatters x·w[c,o,ky,kx] to output (iy·s−p+ky, ix·s−p+kx); w is [Cin, Cout, kH, kW]. */
export function convTranspose2dRef(s: ConvRefSpec, x: Float64Array, w: Float64Array, b: Float64Array | null): Float64Array {
  const [oh, ow] = convTransposeOutSize(s);
  const y = new Float64Array(s.n * s.cout * oh * ow);
  for (let n = 0; n < s.n; n++) {
    for (let o = 0; o < s.cout; o++) for (let i = 0; i < oh * ow; i++) y[(n * s.cout + o) * oh * ow + i] = b ? b[o]! : 0;
    for (let c = 0; c < s.cin; c++)
      for (let iy = 0; iy < s.h; iy++)
        for (let ix = 0; ix < s.w; ix++) {
          const v = x[((n * s.cin + c) * s.h + iy) * s.w + ix]!;
          for (let o = 0; o < s.cout; o++)
            for (let ky = 0; ky < s.kh; ky++)
              for (let kx = 0; kx < s.kw; kx++) {
                const oy = iy * s.stride - s.padding + ky;
                const ox = ix * s.stride - s.padding + kx;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                y[((n * s.cout + o) * oh + oy) * ow + ox]! += v * w[((c * s.cout + o) * s.kh + ky) * s.kw + kx]!;
              }
        }
  }
  return y;
}

/** Batch norm over [n, c, hw]: batch statistics (biased variance) or given running statistics. */
export function batchNormRef(
  x: Float64Array, n: number, c: number, hw: number, gamma: Float64Array | null, beta: Float64Array | null, eps: number,
  running: { mean: Float64Array; variance: Float64Array } | null,
): Float64Array {
  const y = new Float64Array(x.length);
  const count = n * hw;
  for (let ch = 0; ch < c; ch++) {
    let mean: number;
    let variance: number;
    if (running) {
      mean = running.mean[ch]!;
      variance = running.variance[ch]!;
    } else {
      let s = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) s += x[(i * c + ch) * hw + j]!;
      mean = s / count;
      let sq = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) sq += (x[(i * c + ch) * hw + j]! - mean) ** 2;
      variance = sq / count;
    }
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < hw; j++) {
        const k = (i * c + ch) * hw + j;
        y[k] = (x[k]! - mean) * inv * (gamma ? gamma[ch]! : 1) + (beta ? beta[ch]! : 0);
      }
  }
  return y;
}

/** [m, k]·[k, n] */
export function matmulRef(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let q = 0; q < k; q++) s += a[i * k + q]! * b[q * n + j]!;
    y[i * n + j] = s;
  }
  return y;
}

/** Value of `shape`-shaped data at a broadcast output index. */
export function broadcastRef(op: (a: number, b: number) => number, a: Float64Array, aShape: number[], b: Float64Array, bShape: number[], outShape: number[]): Float64Array {
  const size = outShape.reduce((p, d) => p * d, 1);
  const y = new Float64Array(size);
  const index = (shape: number[], coords: number[]): number => {
    const off = coords.length - shape.length;
    let idx = 0;
    for (let d = 0; d < shape.length; d++) idx = idx * shape[d]! + (shape[d] === 1 ? 0 : coords[d + off]!);
    return idx;
  };
  for (let i = 0; i < size; i++) {
    const coords: number[] = [];
    let r = i;
    for (let d = outShape.length - 1; d >= 0; d--) {
      coords[d] = r % outShape[d]!;
      r = Math.floor(r / outShape[d]!);
    }
    y[i] = op(a[index(aShape, coords)]!, b[index(bShape, coords)]!);
  }
  return y;
}

export function bceWithLogitsRef(x: number, t: number): number {
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

export function bceRef(p: number, t: number): number {
  return -(t * Math.max(Math.log(p), -100) + (1 - t) * Math.max(Math.log(1 - p), -100));
}
