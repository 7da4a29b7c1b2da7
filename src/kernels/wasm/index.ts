import type { Backend, ConvGeometry, DirectConvPass, GemmParams } from '../backend.js';
import { SharedHeap } from '../heap.js';
import { registerBackend } from '../registry.js';
import { compiledBackend, type CompiledKernels } from '../shared.js';
import { winogradApplies, winogradImagesPerChunk, winogradPoints, winogradTilesPerImage, type WinogradSide } from '../winograd.js';
import { initWasm, loadKernels } from './load.js';
import { platform } from './platform.js';
import { ThreadPool } from './pool.js';

const KERNELS = [
  'gemm', 'convGemm', 'im2col', 'col2im', 'unary', 'unaryBackward', 'binary', 'scalar', 'swapLeading', 'channelSum',
  'addChannelBias', 'batchNormStats', 'batchNormApply', 'batchNormBackward', 'adamUpdate',
  // Winograd's transforms, F(2×2, 2×2) and F(4×4, 2×2) (the `winograd` pass below runs them around a batched gemm).
  'winogradKernels', 'winogradUnkernels', 'winogradImages', 'winogradOutputs', 'winogradUnoutputs', 'winogradUnimages',
  'winograd4Kernels', 'winograd4Unkernels', 'winograd4Images', 'winograd4Outputs', 'winograd4Unoutputs', 'winograd4Unimages',
] as const satisfies ReadonlyArray<keyof CompiledKernels | `winograd${string}`>;
type KernelName = (typeof KERNELS)[number];

/** Each form's transforms: kernels (U), unkernels (w̄), images (V), unimages (x̄), outputs (Z), unoutputs (y). */
const WINOGRAD_KERNELS = {
  2: { kernels: 'winogradKernels', unkernels: 'winogradUnkernels', images: 'winogradImages', unimages: 'winogradUnimages', outputs: 'winogradOutputs', unoutputs: 'winogradUnoutputs' },
  4: { kernels: 'winograd4Kernels', unkernels: 'winograd4Unkernels', images: 'winograd4Images', unimages: 'winograd4Unimages', outputs: 'winograd4Outputs', unoutputs: 'winograd4Unoutputs' },
} as const satisfies Record<WinogradSide, Record<string, KernelName>>;

/** The direct convolution's variants: Winograd's two forms, by their output tile's side. */
const DIRECT_VARIANTS = [{ name: 'winograd', side: 2 }, { name: 'winograd4', side: 4 }] as const;

/** Layers of at least this many FLOPs have their Winograd pass timed against im2col + GEMM; smaller ones keep GEMM. */
const TIMED_MIN_FLOPS = 5e7;
type KernelFn = (...args: number[]) => void;

/** Below this much work a kernel runs on the calling thread alone: waking workers costs more. */
const PARALLEL_MIN_ELEMENTS = 1 << 15;
const PARALLEL_MIN_FLOPS = 1 << 21;
/** Module static data lives below this; the heap (scratch, then tensors) above. */
const HEAP_BASE = 1 << 20;

export interface WasmBackend extends Backend {
  readonly relaxedSimd: boolean;
  readonly heap: SharedHeap;
  /** Threads computing now: 1 until a new pool's workers are serving (see `ready`). */
  readonly threads: number;
  /**
   * Asks for `n` threads (the caller + n − 1 workers), capped at what this thread can use: 1 on
   * a browser's main thread or without cross-origin isolation (`platform.threadLimit` says why).
   */
  setThreads(n: number): void;
  /** Resolves once the worker threads serve (browsers start them in the background). */
  ready(): Promise<void>;
}

/**
 * The WebAssembly backend: SIMD kernels (AssemblyScript, src/kernels/wasm/assembly) on
 * tensors that live in one shared memory, run on a pool of threads. Kernels it does not
 * implement (rare shapes of broadcasting, SGD, the losses) run the reference code on the same
 * memory, since a view into wasm memory is an ordinary Float32Array.
 */
export function createWasmBackend(threads?: number): WasmBackend {
  const { module, relaxedSimd } = loadKernels();
  const host = platform();
  if (host === null) throw new Error('the platform is not loaded: `await initWasm()` first');
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as Record<KernelName, KernelFn> & {
    gemmScratchFloats(): number;
    winograd4TileScratchBytes(): number;
    winogradPlanePad(): number;
  };
  const heap = new SharedHeap('wasm', memory, HEAP_BASE);
  const scratchBytes = exports.gemmScratchFloats() * 4;
  const tileScratchBytes = exports.winograd4TileScratchBytes();
  const planePad = exports.winogradPlanePad();

  let pool: ThreadPool | null = null;
  // GEMM packing buffers, one per thread, contiguous: thread t uses scratch + t·scratchBytes.
  let scratch = 0;
  let scratchThreads = 0;
  const configure = (n: number): void => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: the thread count must be an integer ≥ 1, got ${n}`);
    const count = Math.min(n, host.maxThreads);
    if (count > scratchThreads) {
      scratch = heap.reserve(count * scratchBytes);
      scratchThreads = count;
    }
    // The same count again keeps a working pool (restarting workers costs, and in browsers they start in the background).
    if (count === (pool?.threads ?? 1) && pool?.error == null) return;
    pool?.close();
    pool = null;
    pool = count > 1 ? new ThreadPool(count, module, memory, KERNELS, host) : null;
  };
  configure(threads ?? host.defaultThreads());

  // Pointers for kernel arguments: views into our memory pass their offset; anything else is
  // copied in (and, for outputs, back out) around the call.
  let staged: Array<{ temp: Float32Array; original: Float32Array; output: boolean }> = [];
  const ptr = (a: Float32Array | null, output = false): number => {
    if (a === null) return 0;
    if (heap.owns(a)) return a.byteOffset;
    const temp = heap.alloc(a.length);
    temp.set(a);
    staged.push({ temp, original: a, output });
    return temp.byteOffset;
  };
  const unstage = (): void => {
    for (const s of staged) {
      if (s.output) s.original.set(s.temp);
      heap.free(s.temp);
    }
    staged = [];
  };
  const threadCount = (): number => (pool?.started === true ? pool.threads : 1);
  // Inside a sequence of kernels on the same staged arrays (`sequence`), they stay staged until it ends.
  let inSequence = false;
  const run = (name: KernelName, work: number, minWork: number, args: number[]): void => {
    try {
      const fn = exports[name];
      if (pool !== null && work >= minWork && pool.started) pool.run(name, [pool.threads, ...args], fn);
      else fn(0, 1, ...args);
    } finally {
      if (!inSequence) unstage();
    }
  };
  const sequence = <T>(body: () => T): T => {
    inSequence = true;
    try {
      return body();
    } finally {
      inSequence = false;
      unstage();
    }
  };

  const conv = (g: ConvGeometry): number[] => [g.n, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.outH, g.outW];
  const kernels: CompiledKernels = {
    gemm(p: GemmParams, a, b, c) {
      const args = [p.transA ? 1 : 0, p.transB ? 1 : 0, p.m, p.n, p.k, p.alpha, p.beta, p.batch, ptr(a), p.strideA, ptr(b), p.strideB, ptr(c, true), p.strideC, scratch, scratchBytes];
      run('gemm', 2 * p.m * p.n * p.k * p.batch, PARALLEL_MIN_FLOPS, args);
    },
    convGemm(p: GemmParams, a, x, g, c, images) {
      // Images out needs each register tile's 8 columns in one image (the kernels' NR).
      if (images.out && (p.transB || (g.outH * g.outW) % 8 !== 0)) return false;
      if (images.in && !p.transB) return false;
      const args = [
        p.transB ? 1 : 0, p.m, p.n, p.k, p.alpha, p.beta, ptr(a), ptr(x), ...conv(g), ptr(c, true), images.out ? 1 : 0, images.in ? 1 : 0, scratch, scratchBytes,
      ];
      run('convGemm', 2 * p.m * p.n * p.k, PARALLEL_MIN_FLOPS, args);
      return true;
    },
    im2col: (x, g, cols) => run('im2col', cols.length, PARALLEL_MIN_ELEMENTS, [ptr(x), ...conv(g), ptr(cols, true)]),
    col2im: (cols, g, x) => run('col2im', cols.length, PARALLEL_MIN_ELEMENTS, [ptr(cols), ...conv(g), ptr(x, true)]),
    unary: (code, x, out, n, alpha) => run('unary', n, PARALLEL_MIN_ELEMENTS, [code, ptr(x), ptr(out, true), n, alpha]),
    unaryBackward: (code, x, y, dy, dx, n, alpha) =>
      run('unaryBackward', n, PARALLEL_MIN_ELEMENTS, [code, ptr(x), ptr(y), ptr(dy), ptr(dx, true), n, alpha]),
    binary: (code, a, b, out, n, bScalar) => run('binary', n, PARALLEL_MIN_ELEMENTS, [code, ptr(a), ptr(b), ptr(out, true), n, bScalar ? 1 : 0]),
    scalar: (code, x, s, out, n) => run('scalar', n, PARALLEL_MIN_ELEMENTS, [code, ptr(x), s, ptr(out, true), n]),
    swapLeading: (x, a, b, rest, out) => run('swapLeading', a * b * rest, PARALLEL_MIN_ELEMENTS, [ptr(x), a, b, rest, ptr(out, true)]),
    channelSum: (x, n, c, hw, out) => run('channelSum', n * c * hw, PARALLEL_MIN_ELEMENTS, [ptr(x), n, c, hw, ptr(out, true)]),
    addChannelBias: (y, n, c, hw, bias) => run('addChannelBias', n * c * hw, PARALLEL_MIN_ELEMENTS, [ptr(y, true), n, c, hw, ptr(bias)]),
    batchNormStats: (x, n, c, hw, mean, variance) =>
      run('batchNormStats', n * c * hw, PARALLEL_MIN_ELEMENTS, [ptr(x), n, c, hw, ptr(mean, true), ptr(variance, true)]),
    batchNormApply: (x, n, c, hw, mean, invStd, gamma, beta, y, slope) =>
      run('batchNormApply', n * c * hw, PARALLEL_MIN_ELEMENTS, [ptr(x), n, c, hw, ptr(mean), ptr(invStd), ptr(gamma), ptr(beta), ptr(y, true), slope]),
    batchNormBackward: (x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta, beta, slope) =>
      run('batchNormBackward', n * c * hw, PARALLEL_MIN_ELEMENTS, [
        ptr(x), ptr(dy), n, c, hw, ptr(mean), ptr(invStd), ptr(gamma), batchStats ? 1 : 0, ptr(dx, true), ptr(dgamma, true), ptr(dbeta, true),
        ptr(beta), slope,
      ]),
    adamUpdate: (param, grad, m, v, n, k) =>
      run('adamUpdate', n, PARALLEL_MIN_ELEMENTS, [
        ptr(param, true), ptr(grad), ptr(m, true), ptr(v, true), n,
        k.beta1, k.beta2, k.oneMinusBeta1, k.oneMinusBeta2, k.eps, k.weightDecay, k.stepSize, k.biasCorrection2Sqrt,
      ]),
  };

  /**
   * A pass of a kernel-4, stride-2 layer by Winograd over the image's phases, F(2×2, 2×2) (side 2)
   * or F(4×4, 2×2) (side 4): the transforms in our kernels, the 9 or 25 products as one batched
   * GEMM, a chunk of images at a time.
   */
  const winograd = (
    side: WinogradSide, pass: DirectConvPass, input: Float32Array, second: Float32Array, g: ConvGeometry, k: number, output: Float32Array,
  ): boolean => {
    if (!winogradApplies(g, side)) return false;
    const points = winogradPoints(side);
    const tilesPerImage = winogradTilesPerImage(g, side);
    const cp = 4 * g.c;
    const perChunk = winogradImagesPerChunk(g, k, side);
    const chunkTiles = perChunk * tilesPerImage;
    const threads = threadCount();
    // Each thread's padded planes of its channels (F(4×4, 2×2): then a tile's intermediate values), whole cache lines.
    const padFloats = g.c * (g.h + 2) * (g.w + 2) + (side === 4 ? tileScratchBytes / 4 : 0);
    const threadFloats = Math.ceil(padFloats / 16) * 16;
    // The transformed planes, planePad floats apart (the kernels' rule): U or P [k × 4c], V or W [T × 4c], Z or M [k × T].
    const plane = (floats: number): number => floats + planePad;
    const uPlane = plane(k * cp);
    const kernelSide = heap.alloc(points * uPlane);
    const imageSide = heap.alloc(points * plane(cp * chunkTiles));
    // F(4×4, 2×2)'s untransform reads four tiles at a time, a vector past the last one.
    const columnSide = heap.alloc(points * plane(k * chunkTiles) + 4);
    const pads = heap.alloc(threads * threadFloats);
    try {
      return sequence(() => {
        const [u, v, z, padPtr] = [kernelSide.byteOffset, imageSide.byteOffset, columnSide.byteOffset, pads.byteOffset];
        const inPtr = ptr(input);
        const secondPtr = ptr(second);
        const outPtr = ptr(output, true);
        const imageBytes = 4 * g.c * g.h * g.w;
        const columnBytes = 4 * k * g.outH * g.outW;
        const shape = [g.outH, g.outW];
        const names = WINOGRAD_KERNELS[side];
        // Each thread's part of the scratch; F(4×4, 2×2)'s kernel and column-side transforms stage a tile's values there too.
        const scratchArgs = [padPtr, 4 * threadFloats];
        const tileScratch = side === 4 ? scratchArgs : [];
        const elements = (count: number): number => points * count * tilesPerImage * (cp + k);
        const products = (transA: number, transB: number, m: number, n: number, depth: number, a: number, sa: number, b: number, sb: number, beta: number, c: number, sc: number): void =>
          run('gemm', 2 * points * m * n * depth, PARALLEL_MIN_FLOPS, [transA, transB, m, n, depth, 1, beta, points, a, sa, b, sb, c, sc, scratch, scratchBytes]);
        if (pass !== 'weights') run(names.kernels, points * k * cp, PARALLEL_MIN_ELEMENTS, [secondPtr, k, g.c, u, ...tileScratch]);
        for (let n0 = 0; n0 < g.n; n0 += perChunk) {
          const count = Math.min(perChunk, g.n - n0);
          const t = count * tilesPerImage;
          const [vPlane, zPlane] = [plane(cp * t), plane(k * t)];
          if (pass === 'convolve') {
            run(names.images, elements(count), PARALLEL_MIN_ELEMENTS, [inPtr + n0 * imageBytes, g.c, g.h, g.w, ...shape, count, v, ...scratchArgs]);
            products(0, 1, k, t, cp, u, uPlane, v, vPlane, 0, z, zPlane);
            run(names.unoutputs, elements(count), PARALLEL_MIN_ELEMENTS, [z, k, ...shape, count, outPtr + n0 * columnBytes, ...tileScratch]);
          } else if (pass === 'adjoint') {
            run(names.outputs, elements(count), PARALLEL_MIN_ELEMENTS, [inPtr + n0 * columnBytes, k, ...shape, count, z, ...tileScratch]);
            products(1, 0, t, cp, k, z, zPlane, u, uPlane, 0, v, vPlane);
            run(names.unimages, elements(count), PARALLEL_MIN_ELEMENTS, [v, g.c, g.h, g.w, ...shape, count, outPtr + n0 * imageBytes, ...scratchArgs]);
          } else {
            run(names.images, elements(count), PARALLEL_MIN_ELEMENTS, [inPtr + n0 * imageBytes, g.c, g.h, g.w, ...shape, count, v, ...scratchArgs]);
            run(names.outputs, elements(count), PARALLEL_MIN_ELEMENTS, [secondPtr + n0 * columnBytes, k, ...shape, count, z, ...tileScratch]);
            products(0, 0, k, cp, t, z, zPlane, v, vPlane, n0 === 0 ? 0 : 1, u, uPlane);
          }
        }
        if (pass === 'weights') run(names.unkernels, points * k * cp, PARALLEL_MIN_ELEMENTS, [u, k, g.c, outPtr]);
        return true;
      });
    } finally {
      for (const a of [kernelSide, imageSide, columnSide, pads]) heap.free(a);
    }
  };

  const backend: WasmBackend = {
    name: 'wasm',
    description: relaxedSimd ? 'WebAssembly SIMD (relaxed FMA)' : 'WebAssembly SIMD',
    allocator: heap,
    heap,
    relaxedSimd,
    get threads() {
      return threadCount();
    },
    setThreads: configure,
    ready: () => pool?.ready() ?? Promise.resolve(),
    ...compiledBackend('wasm', kernels),
    directConvolution(pass, input, second, g, k, output, variant = 0, rectifier) {
      const form = DIRECT_VARIANTS[variant];
      if (form === undefined) {
        const names = DIRECT_VARIANTS.map((v, i) => `${i} (${v.name})`).join(' or ');
        throw new RangeError(`wasm directConvolution: variant must be ${names}, got ${variant}`);
      }
      // Its Winograd has no rectifier to fuse: the caller runs it as a pass of its own.
      if (rectifier !== undefined) return false;
      return winograd(form.side, pass, input, second, g, k, output);
    },
    directConvolutionVariants: DIRECT_VARIANTS.map((v) => v.name),
    convolutionPolicy(pass, g, k) {
      return winogradApplies(g) && 2 * g.n * k * g.c * g.kh * g.kw * g.outH * g.outW >= TIMED_MIN_FLOPS ? 'time' : 'gemm';
    },
  };
  return backend;
}

// Synchronous where the kernels can be read synchronously (Node); browsers fetch them first,
// which `setBackendAsync` does through the async preparation step.
registerBackend('wasm', () => createWasmBackend(), 10, async () => {
  await initWasm();
});
