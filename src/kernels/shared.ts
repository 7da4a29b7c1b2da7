/**
 * What the backends share, in one place (as tfjs-backend-cpu's shared.ts): the Adam constants
 * every backend derives the same way, and `compiledBackend`, which turns the few primitive
 * calls a compiled backend (wasm, native) provides into the whole Backend interface — the size
 * checks, the fast paths and the kernels they borrow from the js reference.
 */
import { sameShape, type Shape } from '../tensor/shape.js';
import type { AdamHyper, Backend, BinaryOp, ConvGeometry, ConvGemmImages, GemmParams, ScalarOp, UnaryOp } from './backend.js';
import { binary as jsBinary, scalar as jsScalar } from './js/elementwise.js';
import { permute as jsPermute, reduceSum as jsReduceSum } from './js/layout.js';
import { bce, bceBackward, bceWithLogits, bceWithLogitsBackward } from './js/loss.js';
import { sgdUpdate as jsSgdUpdate } from './js/optim.js';
import { BINARY_CODES, SCALAR_CODES, UNARY_CODES } from './op-codes.js';

/** Adam's per-step constants, rounded where PyTorch's float32 tensor ops round them. */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  eps: number;
  weightDecay: number;
  /** lr / (1 − β1^t) */
  stepSize: number;
  /** √(1 − β2^t) */
  biasCorrection2Sqrt: number;
}

export function adamConstants(h: AdamHyper): AdamConstants {
  const f = Math.fround;
  return {
    beta1: f(h.beta1),
    beta2: f(h.beta2),
    oneMinusBeta1: f(1 - h.beta1),
    oneMinusBeta2: f(1 - h.beta2),
    eps: h.eps,
    weightDecay: h.weightDecay,
    stepSize: h.lr / (1 - h.beta1 ** h.step),
    biasCorrection2Sqrt: Math.sqrt(1 - h.beta2 ** h.step),
  };
}

/**
 * The primitive calls of a compiled backend: flat arrays and numbers, operation codes from
 * op-codes.ts. Sizes are checked before they are called (compiled code reads memory unchecked).
 */
export interface CompiledKernels {
  gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void;
  im2col(x: Float32Array, g: ConvGeometry, cols: Float32Array): void;
  col2im(cols: Float32Array, g: ConvGeometry, x: Float32Array): void;
  /** Backend.convGemm, where the backend has it. */
  convGemm?(p: GemmParams, a: Float32Array, x: Float32Array, g: ConvGeometry, c: Float32Array, images: ConvGemmImages): boolean;
  /** Backend.convAdjointByImages, where the backend has it. */
  convAdjointByImages?(weight: Float32Array, y: Float32Array, g: ConvGeometry, k: number, image: Float32Array): boolean;
  unary(code: number, x: Float32Array, out: Float32Array, n: number, alpha: number): void;
  unaryBackward(code: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, n: number, alpha: number): void;
  /** `bScalar`: b has one value, broadcast over a. */
  binary(code: number, a: Float32Array, b: Float32Array, out: Float32Array, n: number, bScalar: boolean): void;
  scalar(code: number, x: Float32Array, s: number, out: Float32Array, n: number): void;
  /** [a, b, rest] → [b, a, rest] */
  swapLeading(x: Float32Array, a: number, b: number, rest: number, out: Float32Array): void;
  channelSum(x: Float32Array, n: number, c: number, hw: number, out: Float32Array): void;
  addChannelBias(y: Float32Array, n: number, c: number, hw: number, bias: Float32Array): void;
  batchNormStats(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void;
  /** rectifierSlope: NaN for none, else ReLU (0) or LeakyReLU (> 0) in the same pass. */
  batchNormApply(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array,
    gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array, rectifierSlope: number): void;
  /** slope: NaN for no rectifier, else batchNormApply's (ReLU 0, LeakyReLU > 0), whose derivative at the value it
      computed again with beta (as batchNormApply does) multiplies dy first. */
  batchNormBackward(x: Float32Array, dy: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array,
    gamma: Float32Array | null, batchStats: boolean, dx: Float32Array | null, dgamma: Float32Array | null, dbeta: Float32Array | null,
    beta: Float32Array | null, slope: number): void;
  adamUpdate(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, k: AdamConstants): void;
}

/** The kernels of Backend that compiledBackend provides (a backend adds its name, allocator and threads). */
export type BackendKernels = Omit<Backend, 'name' | 'description' | 'allocator' | 'threads' | 'setThreads' | 'ready'>;

function fits(backend: string, kernel: string, what: string, array: Float32Array, needed: number): void {
  if (!(array.length >= needed)) throw new RangeError(`${backend} ${kernel}: ${what} has ${array.length} elements but the call reaches ${needed}`);
}

/**
 * The Backend kernels over a compiled backend's primitives. Every array is checked to hold
 * what the call reaches (a wrong call is a RangeError, never a read past an array); broadcasting
 * beyond "same shape" and "b is one value", permutations other than swapping the two leading
 * axes, SGD, pow and the losses (all rare or tiny) run the js reference on the same arrays.
 */
export function compiledBackend(backend: string, k: CompiledKernels): BackendKernels {
  const check = (kernel: string, arrays: Record<string, Float32Array | null>, needed: number): void => {
    for (const [what, array] of Object.entries(arrays)) if (array !== null) fits(backend, kernel, what, array, needed);
  };
  const checkConv = (kernel: string, x: Float32Array, cols: Float32Array, g: ConvGeometry): void => {
    fits(backend, kernel, 'image', x, g.n * g.c * g.h * g.w);
    fits(backend, kernel, 'columns', cols, g.c * g.kh * g.kw * g.n * g.outH * g.outW);
  };
  /** Planes [n, c, hw] and per-channel vectors [c]. */
  // NaN stands for "no rectifier" in the compiled kernels' calls; a negative slope would not be one.
  const checkSlope = (kernel: string, slope: number | null): number => {
    if (slope === null) return Number.NaN;
    if (!(slope >= 0)) throw new RangeError(`${backend} ${kernel}: a fused rectifier needs a slope ≥ 0, got ${slope}`);
    return slope;
  };
  const checkChannels = (kernel: string, n: number, c: number, hw: number, planes: Record<string, Float32Array | null>, vectors: Record<string, Float32Array | null>): void => {
    check(kernel, planes, n * c * hw);
    check(kernel, vectors, c);
  };
  return {
    gemm(p: GemmParams, a, b, c) {
      const last = p.batch - 1;
      fits(backend, 'gemm', 'A', a, last * p.strideA + p.m * p.k);
      fits(backend, 'gemm', 'B', b, last * p.strideB + p.k * p.n);
      fits(backend, 'gemm', 'C', c, last * p.strideC + p.m * p.n);
      k.gemm(p, a, b, c);
    },
    im2col(x, g, cols) {
      checkConv('im2col', x, cols, g);
      k.im2col(x, g, cols);
    },
    col2im(cols, g, x) {
      checkConv('col2im', x, cols, g);
      k.col2im(cols, g, x);
    },
    ...(k.convGemm === undefined ? {} : {
      convGemm(p: GemmParams, a: Float32Array, x: Float32Array, g: ConvGeometry, c: Float32Array, images: ConvGemmImages = {}) {
        const rows = g.c * g.kh * g.kw;
        const columns = g.n * g.outH * g.outW;
        const [bRows, bCols] = p.transB ? [columns, rows] : [rows, columns];
        if (p.transA || p.batch !== 1 || p.k !== bRows || p.n !== bCols) {
          throw new RangeError(`${backend} convGemm: op(B) is the ${p.transB ? 'transposed ' : ''}im2col of ${rows}×${columns}, so k must be ${bRows} and n ${bCols} (got k ${p.k}, n ${p.n}), with transA false and batch 1`);
        }
        fits(backend, 'convGemm', 'A', a, p.m * p.k);
        fits(backend, 'convGemm', 'image', x, g.n * g.c * g.h * g.w);
        fits(backend, 'convGemm', 'C', c, p.m * p.n);
        return k.convGemm!(p, a, x, g, c, images);
      },
    }),
    ...(k.convAdjointByImages === undefined ? {} : {
      convAdjointByImages(weight: Float32Array, y: Float32Array, g: ConvGeometry, channels: number, image: Float32Array) {
        fits(backend, 'convAdjointByImages', 'weight', weight, channels * g.c * g.kh * g.kw);
        fits(backend, 'convAdjointByImages', 'y', y, g.n * channels * g.outH * g.outW);
        fits(backend, 'convAdjointByImages', 'image', image, g.n * g.c * g.h * g.w);
        return k.convAdjointByImages!(weight, y, g, channels, image);
      },
    }),
    unary(op: UnaryOp, x, out, alpha) {
      check('unary', { out }, x.length);
      k.unary(UNARY_CODES[op], x, out, x.length, alpha);
    },
    unaryBackward(op: UnaryOp, x, y, dy, dx, alpha) {
      check('unaryBackward', { y, dy, dx }, x.length);
      k.unaryBackward(UNARY_CODES[op], x, y, dy, dx, x.length, alpha);
    },
    binary(op: BinaryOp, a, aShape: Shape, b, bShape: Shape, out, outShape: Shape) {
      const same = sameShape(aShape, outShape) && sameShape(bShape, outShape);
      if (!same && !(b.length === 1 && a.length === out.length)) {
        jsBinary(op, a, aShape, b, bShape, out, outShape);
        return;
      }
      check('binary', same ? { a, b } : { a }, out.length);
      k.binary(BINARY_CODES[op], a, b, out, out.length, !same);
    },
    scalar(op: ScalarOp, x, s, out) {
      const code = SCALAR_CODES[op];
      if (code === undefined) {
        jsScalar(op, x, s, out);
        return;
      }
      check('scalar', { out }, x.length);
      k.scalar(code, x, s, out, x.length);
    },
    reduceSum: jsReduceSum,
    permute(x, shape: Shape, perm: readonly number[], out) {
      if (shape.length !== 3 || perm[0] !== 1 || perm[1] !== 0 || perm[2] !== 2) {
        jsPermute(x, shape, perm, out);
        return;
      }
      const [a, b, rest] = shape as [number, number, number];
      check('permute', { x, out }, a * b * rest);
      k.swapLeading(x, a, b, rest, out);
    },
    channelSum(x, n, c, hw, out) {
      checkChannels('channelSum', n, c, hw, { x }, { out });
      k.channelSum(x, n, c, hw, out);
    },
    addChannelBias(y, n, c, hw, bias) {
      checkChannels('addChannelBias', n, c, hw, { y }, { bias });
      k.addChannelBias(y, n, c, hw, bias);
    },
    batchNormStats(x, n, c, hw, mean, variance) {
      checkChannels('batchNormStats', n, c, hw, { x }, { mean, variance });
      k.batchNormStats(x, n, c, hw, mean, variance);
    },
    batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y, rectifierSlope = null) {
      checkChannels('batchNormApply', n, c, hw, { x, y }, { mean, invStd, gamma, beta });
      k.batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y, checkSlope('batchNormApply', rectifierSlope));
    },
    batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta, rectifier = null) {
      checkChannels('batchNormBackward', n, c, hw, { x, dy, dx }, { mean, invStd, gamma, dgamma, dbeta, beta: rectifier?.beta ?? null });
      const slope = rectifier === null ? Number.NaN : checkSlope('batchNormBackward', rectifier.slope);
      k.batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta, rectifier?.beta ?? null, slope);
    },
    bceWithLogits,
    bceWithLogitsBackward,
    bce,
    bceBackward,
    adamUpdate(param, grad, m, v, h: AdamHyper) {
      check('adamUpdate', { grad, m, v }, param.length);
      k.adamUpdate(param, grad, m, v, param.length, adamConstants(h));
    },
    sgdUpdate: jsSgdUpdate,
  };
}
