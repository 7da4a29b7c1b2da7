import type { GemmParams } from '../backend.js';

/**
 * Reference GEMM. The inner loop runs along a contiguous row of op(B) and of C (i-p-j
 * order), which V8 turns into a tight loop; a transposed B is first copied to row-major.
 * Sums are float32 accumulations in p order, like a simple BLAS.
 */
export function gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void {
  const { m, n, k, alpha, beta, transA, transB } = p;
  const bRows = transB ? new Float32Array(k * n) : null;
  const row = new Float32Array(n);
  for (let batch = 0; batch < p.batch; batch++) {
    const aOff = batch * p.strideA;
    const cOff = batch * p.strideC;
    let bMat = b;
    let bOff = batch * p.strideB;
    if (bRows !== null) {
      for (let j = 0; j < n; j++) {
        for (let q = 0; q < k; q++) bRows[q * n + j] = b[bOff + j * k + q]!;
      }
      bMat = bRows;
      bOff = 0;
    }
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let q = 0; q < k; q++) {
        const av = transA ? a[aOff + q * m + i]! : a[aOff + i * k + q]!;
        const bBase = bOff + q * n;
        for (let j = 0; j < n; j++) row[j]! += av * bMat[bBase + j]!;
      }
      const cBase = cOff + i * n;
      if (beta === 0) {
        for (let j = 0; j < n; j++) c[cBase + j] = alpha * row[j]!;
      } else {
        for (let j = 0; j < n; j++) c[cBase + j] = alpha * row[j]! + beta * c[cBase + j]!;
      }
    }
  }
}
