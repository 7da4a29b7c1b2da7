import { availableParallelism, totalmem } from 'node:os';
import type { Backend, ConvGeometry, ConvolutionPolicy, DirectConvPass } from '../backend.js';
import { ChunkedHeap } from '../heap.js';
import { registerBackend } from '../registry.js';
import { winogradApplies } from '../winograd.js';
import { compiledBackend, type CompiledKernels } from '../shared.js';
import { loadAddon, type FmaPeak, type NativeAddon, type NativeLibraryInfo } from './addon.js';

export interface NativeBackend extends Backend {
  readonly threads: number;
  setThreads(n: number): void;
  /** Where its tensors live. */
  readonly heap: ChunkedHeap;
  /** OpenBLAS's build, kernel family and threading, as the addon reports them. */
  readonly library: NativeLibraryInfo;
  /**
   * The machine's single-precision FMA peak, measured: `threads` threads at once (default: the
   * backend's count) run independent FMA chains at the widest vector ISA the CPU has (or `isa`:
   * 'avx512', 'avx2', 'fma128' (128-bit, WebAssembly SIMD's width) or 'sse' on x86-64)
   * for about `seconds` each, best of `trials`. null when `isa` is not supported here.
   */
  fmaPeak(options?: { threads?: number; seconds?: number; trials?: number; isa?: string }): FmaPeak | null;
  /**
   * When oneDNN's direct convolutions replace im2col + GEMM (addons built with oneDNN only):
   * 'rule' on the kinds of layer where the per-layer profiles found them faster (directWins);
   * 'auto' as 'rule', except that on a large layer both ways are timed at its first use and
   * the faster is kept (GEMM wins on some layers on some CPUs only); 'on' wherever oneDNN
   * can; 'off' never. Starts from DCGAN_DIRECT_CONV (default auto); returns the previous mode.
   */
  setDirectConv(mode: DirectConvMode): DirectConvMode;
  readonly directConv: DirectConvMode;
  /** oneDNN's implementation for a layer's pass (e.g. "jit:avx512_core"), null without oneDNN or where it cannot. */
  directConvImpl(pass: DirectConvPass, g: ConvGeometry, k: number, variant?: number): string | null;
}

/**
 * How a direct convolution runs: oneDNN's layouts, its phase variants, our Winograd F(2×2, 2×2), our
 * direct convolution for layers on the image itself (1 to 4 channels), or our Winograd F(4×4, 2×2)
 * (output sides a multiple of 4) (the addon's layout codes, in order).
 */
const DIRECT_VARIANTS = ['blocked', 'channels-last', 'phases', 'phases-forward', 'winograd', 'image', 'winograd4'] as const;

export type DirectConvMode = 'auto' | 'rule' | 'on' | 'off';
const DIRECT_CONV_MODES: readonly DirectConvMode[] = ['auto', 'rule', 'on', 'off'];

/**
 * Below this many FLOPs a layer's pass is not worth timing (and tiny layers time noisily): the rule
 * decides. Low enough for the layers on a 32 × 32 × 1 image at batch 64 (34 MFLOP), where our image
 * variant is timed against the rest.
 */
const TIMED_MIN_FLOPS = 2e7;

function directConvFromEnv(): DirectConvMode {
  const value = process.env.DCGAN_DIRECT_CONV;
  if (value === undefined || value === '') return 'auto';
  if (!(DIRECT_CONV_MODES as readonly string[]).includes(value)) throw new Error(`DCGAN_DIRECT_CONV must be one of ${DIRECT_CONV_MODES.join(', ')}, got ${value}`);
  return value as DirectConvMode;
}

/**
 * The native backend (Node only): OpenBLAS sgemm for every GEMM and our own OpenMP kernels
 * (native/src) for the rest, on one OpenMP thread pool when OpenBLAS is the OpenMP build.
 * Tensors live in a ChunkedHeap (views into large lazily-committed ArrayBuffers, placed by first
 * fit and, in training steps, by the plan of the step before, so training does not allocate
 * after its first step and only the machine's memory limits a model), and the addon
 * reads any Float32Array in place, so no kernel copies.
 */
/** `addon`: the loaded addon (a test passes a stand-in that answers as one built without oneDNN). */
export function createNativeBackend(threads?: number, addon: NativeAddon = loadAddon()): NativeBackend {
  // A chunk can span all of the machine's memory (Node's ArrayBuffers may pass 4 GiB; the system
  // commits pages only when touched), so a step's activations stay in one planned range.
  const chunkBytes = Math.max(2 ** 32, 2 ** Math.ceil(Math.log2(totalmem())));
  const heap = new ChunkedHeap('native', chunkBytes, addon.releasePages?.bind(addon));
  let threadCount = 1;
  const setThreads = (n: number): void => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: the thread count must be an integer ≥ 1, got ${n}`);
    addon.setThreads(n);
    threadCount = n;
  };
  setThreads(threads ?? availableParallelism());
  const info = addon.info();
  const version = /OpenBLAS\s+[\d.]+/.exec(info.blasConfig)?.[0] ?? 'OpenBLAS';
  const blasDescription = `${version} (${info.blasCore} kernels${info.blasThreading === 'openmp' ? ', one OpenMP pool' : `, ${info.blasThreading}`}) + our OpenMP kernels`;

  const conv = (g: ConvGeometry) => [g.n, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.outH, g.outW] as const;
  const passCode = (pass: DirectConvPass): number => (pass === 'convolve' ? 0 : pass === 'adjoint' ? 1 : 2);
  let directMode = directConvFromEnv();
  const policies = new Map<string, ConvolutionPolicy>();
  const hasDirect = info.directConv !== undefined && addon.directConv !== undefined;
  // Our Winograd and image convolutions need no oneDNN: an addon built without it still has those variants.
  const hasOurs = addon.directConv !== undefined;
  const ours = (variant: number): boolean => ['winograd', 'image', 'winograd4'].includes(DIRECT_VARIANTS[variant]!);
  const checkVariant = (variant: number): void => {
    if (!(Number.isInteger(variant) && variant >= 0 && variant < DIRECT_VARIANTS.length)) {
      throw new RangeError(`native directConvolution: variant must be 0..${DIRECT_VARIANTS.length - 1} (${DIRECT_VARIANTS.join(', ')}), got ${variant}`);
    }
  };
  const directConvImpl = (pass: DirectConvPass, g: ConvGeometry, k: number, variant = 0): string | null => {
    checkVariant(variant);
    return hasDirect || (hasOurs && ours(variant)) ? (addon.directConvImpl?.(passCode(pass), k, ...conv(g), variant) ?? null) : null;
  };
  const directConvolution: NonNullable<Backend['directConvolution']> = (pass, input, second, g, k, output, variant = 0, rectifier) => {
    checkVariant(variant);
    if (!(hasDirect || (hasOurs && ours(variant))) || directMode === 'off') return false;
    const image = g.n * g.c * g.h * g.w;
    const columns = g.n * k * g.outH * g.outW;
    const weights = k * g.c * g.kh * g.kw;
    const sizes = { convolve: [image, weights, columns], adjoint: [columns, weights, image], weights: [image, columns, weights] }[pass];
    for (const [i, [what, array]] of ([['input', input], ['second', second], ['output', output]] as const).entries()) {
      if (!(array.length >= sizes[i]!)) throw new RangeError(`native directConvolution: ${what} has ${array.length} elements but the call reaches ${sizes[i]!}`);
    }
    if (rectifier === undefined) return addon.directConv!(passCode(pass), input, second, output, k, ...conv(g), variant);
    if (!(rectifier.slope >= 0)) throw new RangeError(`native directConvolution: a rectifier's slope must be ≥ 0, got ${rectifier.slope}`);
    const activated = rectifier.activated ?? null;
    if (pass !== 'convolve' && !(activated !== null && activated.length >= columns)) {
      throw new RangeError(`native directConvolution: the rectifier's output has ${activated?.length ?? 'no'} elements but the call reaches ${columns}`);
    }
    return addon.directConvRectified?.(passCode(pass), input, second, output, k, ...conv(g), variant, rectifier.slope, activated) ?? false;
  };
  const kernels: CompiledKernels = {
    gemm: (p, a, b, c) =>
      addon.gemm(p.transA ? 1 : 0, p.transB ? 1 : 0, p.m, p.n, p.k, p.alpha, p.beta, p.batch, a, p.strideA, b, p.strideB, c, p.strideC),
    im2col: (x, g, cols) => addon.im2col(x, ...conv(g), cols),
    col2im: (cols, g, x) => addon.col2im(cols, ...conv(g), x),
    ...(addon.adjointByImages === undefined ? {} : {
      convAdjointByImages: (weight: Float32Array, y: Float32Array, g: ConvGeometry, k: number, image: Float32Array) => addon.adjointByImages!(weight, y, k, ...conv(g), image),
    }),
    unary: (code, x, out, n, alpha) => addon.unary(code, x, out, n, alpha),
    unaryBackward: (code, x, y, dy, dx, n, alpha) => addon.unaryBackward(code, x, y, dy, dx, n, alpha),
    binary: (code, a, b, out, n, bScalar) => addon.binary(code, a, b, out, n, bScalar ? 1 : 0),
    scalar: (code, x, s, out, n) => addon.scalar(code, x, s, out, n),
    swapLeading: (x, a, b, rest, out) => addon.swapLeading(x, a, b, rest, out),
    channelSum: (x, n, c, hw, out) => addon.channelSum(x, n, c, hw, out),
    addChannelBias: (y, n, c, hw, bias) => addon.addChannelBias(y, n, c, hw, bias),
    batchNormStats: (x, n, c, hw, mean, variance) => addon.batchNormStats(x, n, c, hw, mean, variance),
    batchNormApply: (x, n, c, hw, mean, invStd, gamma, beta, y, slope) => addon.batchNormApply(x, n, c, hw, mean, invStd, gamma, beta, y, slope),
    batchNormBackward: (x, dy, n, c, hw, mean, invStd, gamma, batchStats, dx, dgamma, dbeta, beta, slope) =>
      addon.batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, batchStats ? 1 : 0, dx, dgamma, dbeta, beta, slope),
    adamUpdate: (param, grad, m, v, n, k) =>
      addon.adamUpdate(param, grad, m, v, n, k.beta1, k.beta2, k.oneMinusBeta1, k.oneMinusBeta2, k.eps, k.weightDecay, k.stepSize, k.biasCorrection2Sqrt),
  };

  return {
    name: 'native',
    // Says whether oneDNN's convolutions take part, as the mode is now.
    get description() {
      if (!hasDirect) return hasOurs && directMode === 'auto' ? `${blasDescription} + Winograd convolutions where faster (timed)` : blasDescription;
      if (directMode === 'off') return blasDescription;
      return `${blasDescription} + ${info.directConv} convolutions${directMode === 'auto' ? ' where faster (timed)' : directMode === 'rule' ? ' where faster' : ''}`;
    },
    allocator: heap,
    heap,
    get threads() {
      return threadCount;
    },
    setThreads,
    get library() {
      return addon.info();
    },
    fmaPeak: ({ threads = threadCount, seconds = 0.1, trials = 3, isa } = {}) => addon.fmaPeak(threads, seconds, trials, isa),
    ...(addon.fillNormal === undefined ? {} : {
      fillNormal: (state: Uint32Array, out: Float32Array, mean: number, std: number) => addon.fillNormal!(state, out, out.length, mean, std),
    }),
    get directConv() {
      return directMode;
    },
    setDirectConv(mode) {
      if (!DIRECT_CONV_MODES.includes(mode)) throw new RangeError(`setDirectConv: the mode must be one of ${DIRECT_CONV_MODES.join(', ')}, got ${String(mode)}`);
      const previous = directMode;
      directMode = mode;
      return previous;
    },
    directConvImpl,
    ...compiledBackend('native', kernels),
    directConvolution,
    directConvolutionVariants: DIRECT_VARIANTS,
    convolutionPolicy(pass, g, k): ConvolutionPolicy {
      const flops = 2 * g.n * k * g.c * g.kh * g.kw * g.outH * g.outW;
      const timed = directMode === 'auto' && flops >= TIMED_MIN_FLOPS;
      // Winograd (ours, with or without oneDNN) has no blocked layout to pad, so it is timed
      // wherever it applies, also where oneDNN's kernels lose (the adjoint onto G's 3-channel image).
      if (timed && hasOurs && winogradApplies(g)) return 'time';
      if (!hasDirect || directMode === 'off') return 'gemm';
      if (directMode === 'on') return 'direct';
      // Asked at every call of every layer: the answer (which asks oneDNN for its kernel) is kept per layer and mode.
      const key = [directMode, pass, k, ...conv(g)].join(',');
      let policy = policies.get(key);
      if (policy === undefined) {
        policy = !directWins(pass, g, () => directConvImpl(pass, g, k)) ? 'gemm' : timed ? 'time' : 'direct';
        policies.set(key, policy);
      }
      return policy;
    },
  };
}

/**
 * Where oneDNN's direct convolution beats our im2col + GEMM ('rule', and the layers 'auto' does
 * not time), by the per-layer profile of both on the DCGAN layers (BENCHMARKS.md): everywhere
 * its JIT kernels run, except
 * - a column side of one position (G's 1×1 → 4×4 projection, D's last 4×4 → 1×1): there
 *   im2col is a transpose and the GEMM is all there is;
 * - the adjoint pass onto an image of few channels (G's last layer, D's first layer's dx), whose
 *   blocked layout pads 1 or 3 channels to 8 or 16.
 * (The weight gradient is asked for only when no columns were kept: with them it is one GEMM.)
 */
function directWins(pass: DirectConvPass, g: ConvGeometry, impl: () => string | null): boolean {
  if (g.outH * g.outW <= 1) return false;
  if (pass === 'adjoint' && g.c < 16) return false;
  const name = impl();
  return name !== null && (name.startsWith('jit') || name.startsWith('brg'));
}

// Ahead of wasm (10) and js (0): the default in Node wherever the addon was built.
registerBackend('native', () => createNativeBackend(), 20);
