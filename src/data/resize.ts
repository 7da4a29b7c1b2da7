/**
 * Centre crop to a square, then resize to `size`×`size`. Both resampling kernels are
 * separable linear maps, so each axis gets a precomputed list of (source index, weight)
 * taps per output position and an image is resized by a horizontal then a vertical pass:
 *  - shrinking: area averaging (each output pixel is the exact mean of the source area it
 *    covers, fractional pixels weighted by their overlap) — no aliasing;
 *  - enlarging: bilinear with pixel centres at half-integers (PyTorch's align_corners=False),
 *    edges clamped;
 *  - same size: a copy.
 */

/** The taps of one axis: output j reads index[start[j] .. start[j] + count[j]) with those weights. */
export interface AxisPlan {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

export function axisPlan(srcLength: number, dstLength: number): AxisPlan {
  if (!(Number.isInteger(srcLength) && srcLength >= 1 && Number.isInteger(dstLength) && dstLength >= 1)) {
    throw new RangeError(`axisPlan: lengths must be positive integers, got ${srcLength} → ${dstLength}`);
  }
  const start = new Int32Array(dstLength);
  const count = new Int32Array(dstLength);
  const index: number[] = [];
  const weight: number[] = [];
  const scale = srcLength / dstLength;
  for (let j = 0; j < dstLength; j++) {
    start[j] = index.length;
    if (srcLength === dstLength) {
      index.push(j);
      weight.push(1);
    } else if (srcLength > dstLength) {
      // Area: output j covers [j·scale, (j+1)·scale) of the source.
      const a = j * scale;
      const b = j === dstLength - 1 ? srcLength : (j + 1) * scale;
      const first = Math.floor(a);
      const last = Math.min(srcLength - 1, Math.ceil(b) - 1);
      let total = 0;
      const from = index.length;
      for (let i = first; i <= last; i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 1e-12) {
          index.push(i);
          weight.push(overlap);
          total += overlap;
        }
      }
      for (let k = from; k < weight.length; k++) weight[k]! /= total;
    } else {
      // Bilinear: output centre j + ½ maps to source coordinate (j + ½)·scale − ½.
      let x = (j + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      if (x > srcLength - 1) x = srcLength - 1;
      const i0 = Math.floor(x);
      const f = x - i0;
      index.push(i0);
      weight.push(1 - f);
      if (f > 0 && i0 + 1 < srcLength) {
        index.push(i0 + 1);
        weight.push(f);
      }
    }
    count[j] = index.length - start[j]!;
  }
  return { start, count, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/** Resizes one plane of a `srcWidth`×`srcHeight` image, centre-cropped to a square, to `size`×`size`. */
export class SquareResizer {
  readonly side: number;
  readonly cropX: number;
  readonly cropY: number;
  private readonly plan: AxisPlan;
  private readonly rows: Float64Array;
  private readonly line: Float64Array;

  constructor(
    readonly srcWidth: number,
    readonly srcHeight: number,
    readonly size: number,
  ) {
    if (!(Number.isInteger(srcWidth) && srcWidth >= 1 && Number.isInteger(srcHeight) && srcHeight >= 1)) {
      throw new RangeError(`SquareResizer: source size must be positive integers, got ${srcWidth}×${srcHeight}`);
    }
    this.side = Math.min(srcWidth, srcHeight);
    this.cropX = Math.floor((srcWidth - this.side) / 2);
    this.cropY = Math.floor((srcHeight - this.side) / 2);
    this.plan = axisPlan(this.side, size);
    this.rows = new Float64Array(this.side * size);
    this.line = new Float64Array(size);
  }

  /**
   * Reads the plane whose pixel (x, y) is src[srcOffset + y·rowStride + x·pixelStride] and
   * writes the size×size result, row-major, to dst[dstOffset ..], in the source's units.
   */
  resize(
    src: ArrayLike<number>,
    srcOffset: number,
    pixelStride: number,
    rowStride: number,
    dst: Float32Array | Float64Array,
    dstOffset: number,
  ): void {
    const { side, size, cropX, cropY, rows, line } = this;
    const { start, count, index, weight } = this.plan;
    const base = srcOffset + cropY * rowStride + cropX * pixelStride;
    if (side === size) {
      for (let y = 0; y < size; y++) {
        const row = base + y * rowStride;
        for (let x = 0; x < size; x++) dst[dstOffset + y * size + x] = src[row + x * pixelStride]!;
      }
      return;
    }
    // Horizontal pass: every source row of the crop → `size` columns.
    for (let y = 0; y < side; y++) {
      const row = base + y * rowStride;
      for (let x = 0; x < size; x++) {
        let acc = 0;
        const s = start[x]!;
        const e = s + count[x]!;
        for (let k = s; k < e; k++) acc += weight[k]! * src[row + index[k]! * pixelStride]!;
        rows[y * size + x] = acc;
      }
    }
    // Vertical pass.
    for (let y = 0; y < size; y++) {
      line.fill(0);
      const s = start[y]!;
      const e = s + count[y]!;
      for (let k = s; k < e; k++) {
        const w = weight[k]!;
        const r = index[k]! * size;
        for (let x = 0; x < size; x++) line[x]! += w * rows[r + x]!;
      }
      dst.set(line, dstOffset + y * size);
    }
  }
}
