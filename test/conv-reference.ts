/** The three convolution passes by the js reference's im2col / col2im + GEMM, for tests of other ways to compute them. */
import { gemmParams } from '../src/kernels/backend.js';
import { createJsBackend, type ConvGeometry } from '../src/kernels/index.js';
import { conv2d, convTranspose2d } from '../src/ops/conv.js';
import { tensor } from '../src/ops/create.js';

const reference = createJsBackend();


export function geometry(n: number, c: number, h: number, w: number, kh: number, kw: number, stride: number, pad: number): ConvGeometry {
  return {
    n, c, h, w, kh, kw, strideH: stride, strideW: stride, padH: pad, padW: pad,
    outH: Math.floor((h + 2 * pad - kh) / stride) + 1, outW: Math.floor((w + 2 * pad - kw) / stride) + 1,
  };
}

/** W·im2col(x) as [n, k, outH, outW], by the reference kernels. */
export function referenceConvolve(x: Float32Array, w: Float32Array, g: ConvGeometry, k: number): Float32Array {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const cols = new Float32Array(rows * g.n * plane);
  reference.im2col(x, g, cols);
  const cnhw = new Float32Array(k * g.n * plane);
  reference.gemm(gemmParams({ m: k, n: g.n * plane, k: rows }), w, cols, cnhw);
  const out = new Float32Array(cnhw.length);
  reference.permute(cnhw, [k, g.n, plane], [1, 0, 2], out);
  return out;
}

/** col2im(Wᵀ·y) as the image [n, c, h, w], by the reference kernels. */
export function referenceAdjoint(y: Float32Array, w: Float32Array, g: ConvGeometry, k: number): Float32Array {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const channelMajor = new Float32Array(y.length);
  reference.permute(y, [g.n, k, plane], [1, 0, 2], channelMajor);
  const cols = new Float32Array(rows * g.n * plane);
  reference.gemm(gemmParams({ transA: true, m: rows, n: g.n * plane, k }), w, channelMajor, cols);
  const image = new Float32Array(g.n * g.c * g.h * g.w);
  reference.col2im(cols, g, image);
  return image;
}

/** The weight gradient y·im2col(x)ᵀ as [k, c, kh, kw], by the reference kernels. */
export function referenceWeights(x: Float32Array, y: Float32Array, g: ConvGeometry, k: number): Float32Array {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const cols = new Float32Array(rows * g.n * plane);
  reference.im2col(x, g, cols);
  const channelMajor = new Float32Array(y.length);
  reference.permute(y, [g.n, k, plane], [1, 0, 2], channelMajor);
  const grad = new Float32Array(k * rows);
  reference.gemm(gemmParams({ transB: true, m: k, n: rows, k: g.n * plane }), channelMajor, cols, grad);
  return grad;
}


/**
 * conv2d of x [n, c, h, h] and convTranspose2d of dy [n, k, h/2, h/2] by w [k, c, 4, 4] (stride 2,
 * padding 1) on the current backend, each with its backward (dy, then x, as the output's
 * gradient): y, dx, dW of the one, then of the other.
 */
export function stridedConvsWithGradients(x: Float32Array, w: Float32Array, dy: Float32Array, n: number, c: number, h: number, k: number): Float32Array[] {
  const results: Float32Array[] = [];
  for (const transposed of [false, true]) {
    const input = transposed ? tensor(dy, [n, k, h / 2, h / 2]) : tensor(x, [n, c, h, h]);
    const weight = tensor(w, [k, c, 4, 4]);
    input.requiresGrad = true;
    weight.requiresGrad = true;
    const out = transposed ? convTranspose2d(input, weight, null, { stride: 2, padding: 1 }) : conv2d(input, weight, null, { stride: 2, padding: 1 });
    out.backward(tensor(transposed ? x : dy, out.shape));
    results.push(Float32Array.from(out.data), Float32Array.from(input.grad!.data), Float32Array.from(weight.grad!.data));
  }
  return results;
}
