/**
 * Feature matrices (n rows of d float32 values) and the products the metrics need, computed
 * in blocks through the engine's GEMM so that memory stays bounded whatever n is.
 */
import { tensor } from '../ops/create.js';
import { linear } from '../ops/matmul.js';
import { tidy } from '../tensor/scope.js';

/** n feature vectors of length dim, row-major. */
export interface Features {
  readonly n: number;
  readonly dim: number;
  readonly data: Float32Array;
}

export function makeFeatures(data: Float32Array, n: number, dim: number): Features {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(dim) || dim < 1 || data.length !== n * dim) {
    throw new RangeError(`features: ${data.length} values do not make ${n} rows of ${dim}`);
  }
  return { n, dim, data };
}

export function checkFeatures(f: Features, what: string, minRows = 1): void {
  if (f.data.length !== f.n * f.dim) throw new RangeError(`${what}: ${f.data.length} values do not make ${f.n} rows of ${f.dim}`);
  if (f.n < minRows) throw new RangeError(`${what}: needs at least ${minRows} feature vectors, got ${f.n}`);
}

/** Rows [start, end) of f as their own Features (a view, no copy). */
export function rowsOf(f: Features, start: number, end: number): Features {
  return { n: end - start, dim: f.dim, data: f.data.subarray(start * f.dim, end * f.dim) };
}

/** Rows picked by index (a copy). */
export function pickRows(f: Features, indices: ArrayLike<number>): Features {
  const out = new Float32Array(indices.length * f.dim);
  for (let i = 0; i < indices.length; i++) out.set(f.data.subarray(indices[i]! * f.dim, (indices[i]! + 1) * f.dim), i * f.dim);
  return { n: indices.length, dim: f.dim, data: out };
}

/** A·Bᵀ ([a.n × b.n], float32) through the backend's GEMM. */
export function innerProducts(a: Features, b: Features): Float32Array {
  if (a.dim !== b.dim) throw new RangeError(`inner products: feature sizes ${a.dim} and ${b.dim} differ`);
  if (a.n === 0 || b.n === 0) return new Float32Array(0);
  return tidy(() => {
    const out = linear(tensor(a.data, [a.n, a.dim]), tensor(b.data, [b.n, b.dim]));
    return Float32Array.from(out.data);
  });
}

/** Squared Euclidean norm of every row, in float64. */
export function squaredNorms(f: Features): Float64Array {
  const out = new Float64Array(f.n);
  for (let i = 0; i < f.n; i++) {
    let s = 0;
    for (let j = 0; j < f.dim; j++) {
      const v = f.data[i * f.dim + j]!;
      s += v * v;
    }
    out[i] = s;
  }
  return out;
}

/**
 * Calls `visit(rowStart, rows, block)` with squared distances between rows [rowStart,
 * rowStart + rows) of `a` and every row of `b` (block[r * b.n + j], clamped at 0), a block of
 * rows at a time: memory is rowsPerBlock · b.n floats.
 */
export function forEachDistanceBlock(
  a: Features,
  b: Features,
  visit: (rowStart: number, rows: number, block: Float32Array) => void,
  rowsPerBlock = Math.max(1, Math.min(1024, Math.floor(4_000_000 / Math.max(1, b.n)))),
): void {
  const na = squaredNorms(a);
  const nb = squaredNorms(b);
  for (let start = 0; start < a.n; start += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, a.n - start);
    const block = innerProducts(rowsOf(a, start, start + rows), b);
    for (let r = 0; r < rows; r++) {
      const ai = na[start + r]!;
      const base = r * b.n;
      for (let j = 0; j < b.n; j++) {
        const d = ai + nb[j]! - 2 * block[base + j]!;
        block[base + j] = d > 0 ? d : 0;
      }
    }
    visit(start, rows, block);
  }
}
