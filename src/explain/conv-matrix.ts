import { planConv2d } from '../ops/conv.js';

/** A single-channel convolution's geometry, as `dcgan explain` takes it. */
export interface ConvMatrixSpec {
  inputH: number;
  inputW: number;
  kernelH: number;
  kernelW: number;
  stride: number;
  padding: number;
}

/**
 * The sparse matrix C of a convolution: y = C·x with x and y flattened row by row.
 * Row r (an output position) holds the kernel weight w(i, j) in the column of the input
 * pixel that w(i, j) touches when the kernel sits at r; everything else is zero. Stored as
 * kernel indices (i·kW + j), −1 for a zero, so it can be printed symbolically or filled in.
 */
export interface ConvMatrix {
  spec: ConvMatrixSpec;
  outH: number;
  outW: number;
  rows: number;
  cols: number;
  /** rows × cols kernel indices, row-major; −1 where C is zero. */
  entries: Int32Array;
}

/**
 * The largest C that convMatrix builds: 2^24 entries (64 MiB of indices, 128 MiB dense), e.g. a
 * 64×64 input with a 3×3 kernel; explain is for looking at C, and a larger one is unreadable anyway.
 */
export const MAX_MATRIX_ENTRIES = 2 ** 24;

export function convMatrix(spec: ConvMatrixSpec): ConvMatrix {
  const { inputH: h, inputW: w, kernelH: kh, kernelW: kw, stride, padding } = spec;
  // The same validation and output size as conv2d itself.
  const { geometry } = planConv2d([1, 1, h, w], [1, 1, kh, kw], { stride, padding });
  const { outH, outW } = geometry;
  const rows = outH * outW;
  const cols = h * w;
  if (rows * cols > MAX_MATRIX_ENTRIES) {
    throw new RangeError(
      `the matrix C would be ${rows}×${cols} (${rows * cols} entries) for a ${h}×${w} input, more than the limit of ${MAX_MATRIX_ENTRIES} entries (2^24); use a smaller input`,
    );
  }
  const entries = new Int32Array(rows * cols).fill(-1);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      const r = oy * outW + ox;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const iy = oy * stride - padding + i;
          const ix = ox * stride - padding + j;
          if (iy >= 0 && iy < h && ix >= 0 && ix < w) entries[r * cols + iy * w + ix] = i * kw + j;
        }
      }
    }
  }
  return { spec, outH, outW, rows, cols, entries };
}

/** C with the kernel's values filled in (float64, dense). */
export function denseMatrix(c: ConvMatrix, kernel: ArrayLike<number>): Float64Array {
  const out = new Float64Array(c.rows * c.cols);
  c.entries.forEach((k, i) => {
    if (k >= 0) out[i] = kernel[k]!;
  });
  return out;
}

/** y = M·x for a dense rows × cols matrix, or Mᵀ·x with `transpose`. */
export function matVec(m: Float64Array, rows: number, cols: number, x: ArrayLike<number>, transpose = false): Float64Array {
  const out = new Float64Array(transpose ? cols : rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = m[r * cols + c]!;
      if (v === 0) continue;
      if (transpose) out[c]! += v * x[r]!;
      else out[r]! += v * x[c]!;
    }
  }
  return out;
}
