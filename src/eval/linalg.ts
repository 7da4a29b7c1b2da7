/**
 * Dense float64 linear algebra for the evaluation metrics: a symmetric eigendecomposition by
 * the cyclic Jacobi method (accurate to a few ulps of the largest eigenvalue, fast enough for
 * the 128-dimensional features we use), and the matrix functions built on it.
 *
 * Matrices are row-major Float64Arrays of n·n values.
 */

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns: vectors[i * n + k] is component i of the k-th eigenvector. */
  vectors: Float64Array;
}

function checkSquare(a: Float64Array, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new RangeError(`${what}: expected an ${n}×${n} matrix (${n * n} values), got ${a.length} values`);
  }
}

/**
 * Eigenvalues and orthonormal eigenvectors of the symmetric matrix `a` (n×n, only its
 * symmetric part is used). Cyclic Jacobi: sweep over every off-diagonal pair, zeroing it with
 * a plane rotation, until the off-diagonal mass is negligible against the diagonal.
 */
export function symmetricEigen(a: Float64Array, n: number, options: { maxSweeps?: number } = {}): SymmetricEigen {
  checkSquare(a, n, 'symmetricEigen');
  const maxSweeps = options.maxSweeps ?? 100;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) m[i * n + j] = 0.5 * (a[i * n + j]! + a[j * n + i]!);
  }
  for (const v of m) if (!Number.isFinite(v)) throw new RangeError('symmetricEigen: the matrix has non-finite entries');
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;

  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += m[i * n + i]! * m[i * n + i]!;
      for (let j = i + 1; j < n; j++) off += m[i * n + j]! * m[i * n + j]!;
    }
    if (off === 0 || off <= 1e-30 * diag) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        // Skip pairs that are already zero to working precision.
        if (Math.abs(apq) < 1e-300 || Math.abs(apq) <= 2.2e-17 * Math.sqrt(Math.abs(app * aqq))) {
          m[p * n + q] = 0;
          m[q * n + p] = 0;
          continue;
        }
        // The rotation angle θ with tan 2θ = 2apq / (aqq − app); t = tan θ, the smaller root.
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J on rows/columns p and q.
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        // V ← V J.
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[x * n + x]! - m[y * n + y]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = m[src * n + src]!;
    for (let i = 0; i < n; i++) vectors[i * n + k] = v[i * n + src]!;
  });
  return { values, vectors };
}

/** V·diag(f(λ))·Vᵀ for the symmetric matrix a = V·diag(λ)·Vᵀ. */
export function symmetricFunction(a: Float64Array, n: number, f: (lambda: number) => number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const fl = values.map(f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k]! * fl[k]! * vectors[j * n + k]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** The symmetric positive semi-definite square root (negative eigenvalues from rounding are clamped to 0). */
export function symmetricSqrt(a: Float64Array, n: number): Float64Array {
  return symmetricFunction(a, n, (l) => Math.sqrt(Math.max(l, 0)));
}

/** a·b for n×n row-major matrices. */
export function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return out;
}

export function trace(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + i]!;
  return s;
}
