import { availableParallelism } from 'node:os';
import type { AdamHyper, Backend, BinaryOp, ConvGeometry, GemmParams, ScalarOp, UnaryOp } from '../backend.js';
import { BINARY_CODES, SCALAR_CODES, UNARY_CODES } from '../op-codes.js';
import { registerBackend } from '../registry.js';
import { binary as jsBinary, scalar as jsScalar } from '../js/elementwise.js';
import { permute as jsPermute, reduceSum as jsReduceSum } from '../js/layout.js';
import { bce, bceBackward, bceWithLogits, bceWithLogitsBackward } from '../js/loss.js';
import { sgdUpdate } from '../js/optim.js';
import { sameShape, type Shape } from '../../tensor/shape.js';
import { WasmHeap } from '../wasm/heap.js';
import { loadAddon, type NativeLibraryInfo } from './addon.js';


export interface NativeBackend extends Backend {
  readonly threads: number;
  setThreads(n: number): void;
  /** OpenBLAS's build, kernel family and threading, as the addon reports them. */
  readonly library: NativeLibraryInfo;
}

/**
 * C reads memory unchecked, so sizes are checked here: a wrong call is a RangeError, never
 * a read or write outside an array (a crash of the whole process, or silent corruption).
 */
function fits(kernel: string, what: string, array: Float32Array, needed: number): void {
  if (!(array.length >= needed)) throw new RangeError(`native ${kernel}: ${what} has ${array.length} elements but the call reaches ${needed}`);
}

function fitsConv(kernel: string, x: Float32Array, cols: Float32Array, g: ConvGeometry): void {
  fits(kernel, 'image', x, g.n * g.c * g.h * g.w);
  fits(kernel, 'columns', cols, g.c * g.kh * g.kw * g.n * g.outH * g.outW);
}

/** Planes [n, c, hw] and per-channel vectors [c]; null entries are optional arrays left out. */
function fitsChannels(kernel: string, n: number, c: number, hw: number, planes: Record<string, Float32Array | null>, vectors: Record<string, Float32Array | null>): void {
  for (const [what, array] of Object.entries(planes)) if (array !== null) fits(kernel, what, array, n * c * hw);
  for (const [what, array] of Object.entries(vectors)) if (array !== null) fits(kernel, what, array, c);
}

/**
 * The native backend (Node only): OpenBLAS sgemm for every GEMM and our own OpenMP kernels
 * (native/src) for the rest, on one OpenMP thread pool when OpenBLAS is the OpenMP build.
 * Tensors live in a shared WebAssembly.Memory managed by the wasm backend's heap: the same
 * memory design (exact-size reuse, so training does not allocate after its first step), and
 * the addon reads any Float32Array in place, so no kernel copies.
 */
export function createNativeBackend(threads?: number): NativeBackend {
  const addon = loadAddon();
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  const heap = new WasmHeap(memory, 64);
  let threadCount = 1;
  const setThreads = (n: number): void => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: the thread count must be an integer ≥ 1, got ${n}`);
    addon.setThreads(n);
    threadCount = n;
  };
  setThreads(threads ?? availableParallelism());
  const info = addon.info();
  const version = /OpenBLAS\s+[\d.]+/.exec(info.blasConfig)?.[0] ?? 'OpenBLAS';
  const description = `${version} (${info.blasCore} kernels${info.blasThreading === 'openmp' ? ', one OpenMP pool' : `, ${info.blasThreading}`}) + our OpenMP kernels`;

  return {
    name: 'native',
    description,
    allocator: heap,
    get threads() {
      return threadCount;
    },
    setThreads,
    get library() {
      return addon.info();
    },

    gemm(p: GemmParams, a, b, c) {
      const last = p.batch - 1;
      fits('gemm', 'A', a, last * p.strideA + p.m * p.k);
      fits('gemm', 'B', b, last * p.strideB + p.k * p.n);
      fits('gemm', 'C', c, last * p.strideC + p.m * p.n);
      addon.gemm(p.transA ? 1 : 0, p.transB ? 1 : 0, p.m, p.n, p.k, p.alpha, p.beta, p.batch, a, p.strideA, b, p.strideB, c, p.strideC);
    },
    im2col(x, g: ConvGeometry, cols) {
      fitsConv('im2col', x, cols, g);
      addon.im2col(x, g.n, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.outH, g.outW, cols);
    },
    col2im(cols, g: ConvGeometry, x) {
      fitsConv('col2im', x, cols, g);
      addon.col2im(cols, g.n, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.outH, g.outW, x);
    },
    unary(op: UnaryOp, x, out, alpha) {
      fits('unary', 'out', out, x.length);
      addon.unary(UNARY_CODES[op], x, out, x.length, alpha);
    },
    unaryBackward(op: UnaryOp, x, y, dy, dx, alpha) {
      for (const [what, arr] of [['y', y], ['dy', dy], ['dx', dx]] as const) fits('unaryBackward', what, arr, x.length);
      addon.unaryBackward(UNARY_CODES[op], x, y, dy, dx, x.length, alpha);
    },
    binary(op: BinaryOp, a, aShape: Shape, b, bShape: Shape, out, outShape: Shape) {
      const same = sameShape(aShape, outShape) && sameShape(bShape, outShape);
      if (same || (b.length === 1 && a.length === out.length)) {
        fits('binary', 'a', a, out.length);
        if (same) fits('binary', 'b', b, out.length);
        addon.binary(BINARY_CODES[op], a, b, out, out.length, same ? 0 : 1);
      } else jsBinary(op, a, aShape, b, bShape, out, outShape);
    },
    scalar(op: ScalarOp, x, s, out) {
      const code = SCALAR_CODES[op];
      if (code === undefined) jsScalar(op, x, s, out);
      else {
        fits('scalar', 'out', out, x.length);
        addon.scalar(code, x, s, out, x.length);
      }
    },
    reduceSum: jsReduceSum,
    permute(x, shape: Shape, perm: readonly number[], out) {
      if (shape.length === 3 && perm[0] === 1 && perm[1] === 0 && perm[2] === 2) {
        const count = shape[0]! * shape[1]! * shape[2]!;
        fits('permute', 'x', x, count);
        fits('permute', 'out', out, count);
        addon.swapLeading(x, shape[0]!, shape[1]!, shape[2]!, out);
      } else jsPermute(x, shape, perm, out);
    },
    channelSum(x, n, c, hw, out) {
      fitsChannels('channelSum', n, c, hw, { x }, { out });
      addon.channelSum(x, n, c, hw, out);
    },
    addChannelBias(y, n, c, hw, bias) {
      fitsChannels('addChannelBias', n, c, hw, { y }, { bias });
      addon.addChannelBias(y, n, c, hw, bias);
    },
    batchNormStats(x, n, c, hw, mean, variance) {
      fitsChannels('batchNormStats', n, c, hw, { x }, { mean, variance });
      addon.batchNormStats(x, n, c, hw, mean, variance);
    },
    batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y) {
      fitsChannels('batchNormApply', n, c, hw, { x, y }, { mean, invStd, gamma, beta });
      addon.batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y);
    },
    batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta) {
      fitsChannels('batchNormBackward', n, c, hw, { x, dy, dx }, { mean, invStd, gamma, dgamma, dbeta });
      addon.batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats ? 1 : 0, dx, dgamma, dbeta);
    },
    bceWithLogits,
    bceWithLogitsBackward,
    bce,
    bceBackward,
    adamUpdate(param, grad, m, v, h: AdamHyper) {
      for (const [what, arr] of [['grad', grad], ['m', m], ['v', v]] as const) fits('adamUpdate', what, arr, param.length);
      const bc1 = 1 - h.beta1 ** h.step;
      const bc2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
      addon.adamUpdate(param, grad, m, v, param.length, h.beta1, h.beta2, Math.fround(1 - h.beta1), Math.fround(1 - h.beta2), h.eps, h.weightDecay, h.lr / bc1, bc2Sqrt);
    },
    sgdUpdate,
  };
}

// Ahead of wasm (10) and js (0): the default in Node wherever the addon was built.
registerBackend('native', () => createNativeBackend(), 20);
