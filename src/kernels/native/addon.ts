/**
 * Finds and loads the Node-API addon (native/, built at `npm install` by
 * scripts/build-native.mjs when OpenBLAS is installed). Node only: browsers never import this.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon reports about the library under it. */
export interface NativeLibraryInfo {
  /** OpenBLAS's build line, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH USE_OPENMP SkylakeX MAX_THREADS=64". */
  blasConfig: string;
  /** The kernel family OpenBLAS chose for this CPU (OPENBLAS_CORETYPE overrides it). */
  blasCore: string;
  /** openmp: OpenBLAS shares our kernels' OpenMP pool; pthreads: it has its own. */
  blasThreading: 'openmp' | 'pthreads' | 'sequential';
  blasThreads: number;
  threads: number;
  cores: number;
  /** "oneDNN 2.6.3" when the addon was built with oneDNN's direct convolutions. */
  directConv?: string;
}

type Floats = Float32Array | null;

/** The single-precision FMA peak measured on this machine (native/src/peak.c). */
export interface FmaPeak {
  /**
   * GFLOP/s of all the threads together (2 flops per FMA lane), each thread's over its own CPU
   * time: what the cores do while they run, not lowered by other work time-slicing them.
   */
  gflops: number;
  /** The same FLOPs over the wall-clock time of the run. */
  wallGflops: number;
  /** The vector ISA it ran: avx512, avx2 or sse (x86-64), neon (arm64), scalar. */
  isa: string;
}

/** The addon's exports; argument order as in native/src/addon.c. */
export interface NativeAddon {
  gemm(transA: number, transB: number, m: number, n: number, k: number, alpha: number, beta: number, batch: number,
    a: Float32Array, strideA: number, b: Float32Array, strideB: number, c: Float32Array, strideC: number): void;
  im2col(x: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
    ph: number, pw: number, outH: number, outW: number, cols: Float32Array): void;
  col2im(cols: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
    ph: number, pw: number, outH: number, outW: number, x: Float32Array): void;
  /** col2im(Wᵀ·y) into x image by image (Backend.convAdjointByImages); false when a buffer could not be had. */
  adjointByImages?(w: Float32Array, y: Float32Array, k: number, n: number, c: number, h: number, w2: number, kh: number, kw: number, sh: number,
    sw: number, ph: number, pw: number, outH: number, outW: number, x: Float32Array): boolean;
  /**
   * pass 0: convolve, 1: adjoint, 2: weights (Backend.directConvolution); layout 0: oneDNN's blocked, 1: channels-last,
   * 2: stride-1 convolutions over the image's phases, 3: the adjoint's phases as forward convolutions, 4: Winograd
   * F(2×2, 2×2) over the phases (kernels.h);
   * false when declined (absent in addons built before it existed).
   */
  directConv?(pass: number, input: Float32Array, second: Float32Array, output: Float32Array, k: number, n: number, c: number, h: number,
    w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, outH: number, outW: number, layout: number): boolean;
  /**
   * directConv with a rectifier fused in (Backend.directConvolution's `rectifier`; slope 0 is ReLU, another
   * LeakyReLU; `activated` the rectifier's output, for the adjoint and the weights): our image convolution
   * (layout 5) only; false, nothing written, otherwise (absent in addons built before it existed).
   */
  directConvRectified?(pass: number, input: Float32Array, second: Float32Array, output: Float32Array, k: number, n: number, c: number,
    h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, outH: number, outW: number, layout: number,
    slope: number, activated: Floats): boolean;
  /** oneDNN's implementation for that geometry, pass and layout (e.g. "jit:avx512_core"), or null. */
  directConvImpl?(pass: number, k: number, n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
    ph: number, pw: number, outH: number, outW: number, layout: number): string | null;
  unary(op: number, x: Float32Array, out: Float32Array, n: number, alpha: number): void;
  unaryBackward(op: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, n: number, alpha: number): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, n: number, bScalar: number): void;
  scalar(op: number, x: Float32Array, s: number, out: Float32Array, n: number): void;
  swapLeading(x: Float32Array, a: number, b: number, rest: number, out: Float32Array): void;
  channelSum(x: Float32Array, n: number, c: number, hw: number, out: Float32Array): void;
  addChannelBias(y: Float32Array, n: number, c: number, hw: number, bias: Float32Array): void;
  batchNormStats(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void;
  /** rectifierSlope NaN: no rectifier. */
  batchNormApply(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array, gamma: Floats, beta: Floats, y: Float32Array,
    rectifierSlope: number): void;
  batchNormBackward(x: Float32Array, dy: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array,
    gamma: Floats, batchStats: number, dx: Floats, dgamma: Floats, dbeta: Floats, beta: Floats, slope: number): void;
  adamUpdate(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, beta1: number, beta2: number,
    oneMinusBeta1: number, oneMinusBeta2: number, eps: number, weightDecay: number, stepSize: number, biasCorrection2Sqrt: number): void;
  setThreads(n: number): void;
  info(): NativeLibraryInfo;
  /** null when `isa` is not supported here. */
  fmaPeak(threads: number, seconds: number, trials: number, isa?: string): FmaPeak | null;
  /** Backend.fillNormal over out's first n values (absent in addons built before it existed). */
  fillNormal?(state: Uint32Array, out: Float32Array, n: number, mean: number, std: number): void;
  /** Gives the whole pages inside `view` back to the system (absent in addons built before it existed). */
  releasePages?(view: Float32Array): void;
}

/** The package root: this file is src/kernels/native/addon.ts or dist/kernels/native/addon.js. */
const ROOT = new URL('../../../', import.meta.url);
const ADDON = fileURLToPath(new URL('native/build/Release/dcgan_native.node', ROOT));
const STATUS = fileURLToPath(new URL('native/build/status.json', ROOT));

export const NATIVE_HOW_TO =
  'install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev libopenblas0-openmp), then `npm rebuild dcgan-ts` (in a clone: `npm run build:native`)';

/** Why the addon is missing, from the install-time build's record. */
function missingReason(): string {
  try {
    const status = JSON.parse(readFileSync(STATUS, 'utf8')) as { reason?: unknown };
    if (typeof status.reason === 'string') return `the native addon was not built at install (${status.reason})`;
  } catch {
    // no record: the build never ran
  }
  return 'the native addon was not built';
}

/**
 * The OpenBLAS kernel family to ask for on the CPU `/proc/cpuinfo` describes, or undefined to keep
 * OpenBLAS's own choice. AMD Zen 4 (family 25) runs a 512-bit FMA as two 256-bit halves, and
 * there OpenBLAS's Zen kernels beat the AVX-512 ones (SkylakeX/Cooperlake) it picks by the flags;
 * Zen 5 (family 26) and later have full-width 512-bit FMA units, and there the AVX-512 kernels
 * are about twice as fast (BENCHMARKS.md has both). Earlier AMD CPUs have no AVX-512, and
 * OpenBLAS picks its Zen kernels for them itself.
 */
export function blasCoreTypeFor(cpuinfo: string): string | undefined {
  if (!/^vendor_id\s*:\s*AuthenticAMD/m.test(cpuinfo)) return undefined;
  const family = /^cpu family\s*:\s*(\d+)/m.exec(cpuinfo);
  return family !== null && Number(family[1]) <= 25 ? 'Zen' : undefined;
}

/** OpenBLAS reads OPENBLAS_CORETYPE once, when it loads; a user's own choice wins. */
function chooseCoreType(): void {
  if (process.env.OPENBLAS_CORETYPE !== undefined || process.platform !== 'linux') return;
  try {
    const core = blasCoreTypeFor(readFileSync('/proc/cpuinfo', 'utf8'));
    if (core !== undefined) process.env.OPENBLAS_CORETYPE = core;
  } catch {
    // no /proc: keep OpenBLAS's own choice
  }
}

/**
 * OpenBLAS built for pthreads (when only libopenblas0-pthread is installed) keeps its own
 * threads, which spin for up to 2^28 cycles after each GEMM — competing with our OpenMP
 * threads for the same cores in the kernels that follow (BENCHMARKS.md has the cost). 2^4
 * cycles makes them sleep at once. The OpenMP build ignores it.
 */
function limitBlasSpinning(): void {
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
}

/**
 * libgomp's threads spin at every barrier before they sleep (300 000 spins by default). On a
 * machine whose cores another process also uses, a spinning thread holds a core its partner
 * needs to reach that barrier, and a step full of short parallel regions slows to a crawl.
 * 10 000 spins keep the quiet machine's speed and recover most of the busy machine's
 * (BENCHMARKS.md has both). Read once when the addon loads; a user's own OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT wins.
 */
function spinBriefly(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.GOMP_SPINCOUNT = '10000';
}

let addon: NativeAddon | null = null;

export function loadAddon(): NativeAddon {
  if (addon !== null) return addon;
  // Lets a user (and the test suite) run as on a machine without the addon.
  if (process.env.DCGAN_NATIVE === '0') throw new Error('the native backend is turned off (DCGAN_NATIVE=0)');
  if (!existsSync(ADDON)) throw new Error(`${missingReason()}; for the native backend, ${NATIVE_HOW_TO}`);
  chooseCoreType();
  limitBlasSpinning();
  spinBriefly();
  const require = createRequire(import.meta.url);
  try {
    addon = require(ADDON) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`the native addon does not load (${reason}); ${NATIVE_HOW_TO}`, { cause: error });
  }
  return addon;
}
