import type { Allocator } from '../tensor/memory.js';
import type { Shape } from '../tensor/shape.js';
import type { BinaryOp, ScalarOp, UnaryOp } from './op-codes.js';

export type { BinaryOp, ScalarOp, UnaryOp } from './op-codes.js';

/**
 * The one interface every backend implements. Kernels take Float32Array views and plain
 * numbers only: a backend allocates the arrays (its `allocator`), so the wasm backend can
 * hand out views into its own memory and recover pointers from `byteOffset` without a copy,
 * and a native addon can read the same memory through Node-API. Arrays may alias where a
 * kernel says so (elementwise kernels allow out === input).
 */

/** Row-major strided batched GEMM: C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]. */
export interface GemmParams {
  /** A is stored [k × m] (so op(A) = Aᵀ) instead of [m × k]. */
  transA: boolean;
  /** B is stored [n × k] (so op(B) = Bᵀ) instead of [k × n]. */
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  batch: number;
  /** Element offsets between consecutive batch items; 0 reuses one matrix for every item. */
  strideA: number;
  strideB: number;
  strideC: number;
}

/** GEMM parameters with the usual defaults: no transposes, alpha 1, beta 0, one matrix. */
export function gemmParams(p: Partial<GemmParams> & Pick<GemmParams, 'm' | 'n' | 'k'>): GemmParams {
  return { transA: false, transB: false, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0, ...p };
}

/**
 * The passes a direct convolution serves: C·x (conv forward), Cᵀ·y (its backward-data, a
 * transposed conv's forward) and the weight gradient y·im2col(x)ᵀ.
 */
export type DirectConvPass = 'convolve' | 'adjoint' | 'weights';

/**
 * A rectifier a direct convolution runs in the same pass (a convolution followed by ReLU or
 * LeakyReLU and no BatchNorm: DCGAN's first discriminator block). `slope` 0 is ReLU (as
 * `unary('relu')`), a positive one LeakyReLU (as `unary('leakyRelu')`). 'convolve' rectifies its
 * output; 'adjoint' and 'weights' take their column side as the gradient at the rectifier's
 * output `activated` and pass it back through the rectifier first (as `unaryBackward` with
 * x = y = activated), so the gradient before it is never stored.
 */
export interface ConvRectifier {
  readonly slope: number;
  /** The rectifier's output [n, k, outH, outW] ('adjoint' and 'weights'). */
  readonly activated?: Float32Array;
}

/** See Backend.convolutionPolicy. */
export type ConvolutionPolicy = 'direct' | 'gemm' | 'time';

/**
 * The rectifier batchNormApply ran after the normalisation (ReLU for slope 0, else LeakyReLU),
 * for batchNormBackward: with the apply's beta, the backward computes each value before the
 * rectifier again, as the apply did, so the output need not be kept or read.
 */
export interface FusedRectifier {
  slope: number;
  beta: Float32Array | null;
}

/** Which operands of Backend.convGemm are images [n, channels, outH, outW] rather than channel-major matrices. */
export interface ConvGemmImages {
  in?: boolean;
  out?: boolean;
}

/** A 2-D convolution's geometry, shared by im2col and col2im. */
export interface ConvGeometry {
  /** Images in the batch. */
  n: number;
  /** Channels, height and width of the image side (input of a conv, output of a transposed conv). */
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  /** Height and width of the column side (output of a conv, input of a transposed conv). */
  outH: number;
  outW: number;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** True on the first step: the momentum buffer starts as the gradient itself. */
  firstStep: boolean;
}

export interface Backend {
  readonly name: string;
  /** What computes, for people: "OpenBLAS 0.3.21 (SkylakeX kernels) + OpenMP", "WebAssembly SIMD". */
  readonly description?: string;
  readonly allocator: Allocator;
  /** Threads the backend computes with, for backends that have a pool. */
  readonly threads?: number;
  setThreads?(n: number): void;
  /** For backends that start parts in the background (the wasm backend's browser workers): resolves when all are running. */
  ready?(): Promise<void>;

  gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void;

  /**
   * x [n, c, h, w] → cols [c·kh·kw, n·outH·outW]: the batch is merged into the columns so that
   * a whole layer is one GEMM (column img·outH·outW + oy·outW + ox); padding reads 0.
   */
  im2col(x: Float32Array, g: ConvGeometry, cols: Float32Array): void;
  /** The adjoint of im2col: cols [c·kh·kw, n·outH·outW] are summed into x [n, c, h, w] (overwritten). */
  col2im(cols: Float32Array, g: ConvGeometry, x: Float32Array): void;
  /**
   * gemm(p, a, im2col(x), c) without storing the columns, for backends that make them while
   * packing (wasm): B is im2col(x) [c·kh·kw, n·outH·outW], or with p.transB its transpose (the
   * weight gradient's y·colsᵀ). p.transA is false and p.batch 1. `images` spares the permutes
   * around it where the backend can (it returns false, writing nothing, where not): `out` (the
   * forward) writes C [m, n·outH·outW] as the images [n, m, outH, outW], the convolution's NCHW
   * output; `in` (the weight gradient) reads A [m, n·outH·outW] from dy's images [n, m, outH, outW].
   */
  convGemm?(p: GemmParams, a: Float32Array, x: Float32Array, g: ConvGeometry, c: Float32Array, images?: ConvGemmImages): boolean;
  /**
   * col2im(Wᵀ·y) into `image` [n, c, h, w] from the column side y [n, k, outH, outW] and W
   * [k, c·kh·kw], an image at a time, each image's columns made where they stay in cache (the
   * native backend, where the column side has 64 positions or more). False where it does not;
   * `image` must then be computed again.
   */
  convAdjointByImages?(weight: Float32Array, y: Float32Array, g: ConvGeometry, k: number, image: Float32Array): boolean;
  /**
   * A convolution without a column buffer, for backends that have one (the native backend
   * with oneDNN), with weights W [k, c, kh, kw], the image [n, c, h, w] and the column side
   * [n, k, outH, outW]:
   * 'convolve': input the image, second W → output the column side (W·im2col(x));
   * 'adjoint': input the column side, second W → output the image (col2im(Wᵀ·y));
   * 'weights': input the image, second the column side → output the gradient of W (y·im2col(x)ᵀ).
   * Returns false, writing nothing, where it cannot (or is switched off); the caller then takes
   * im2col + GEMM. Whether to call it at all is `convolutionPolicy`'s answer. `variant` picks one
   * of `directConvolutionVariants` (default 0, the backend's usual one). With `rectifier`, the
   * rectifier runs in the same pass (ConvRectifier); a variant that cannot fuse it returns false.
   */
  directConvolution?(
    pass: DirectConvPass,
    input: Float32Array,
    second: Float32Array,
    g: ConvGeometry,
    k: number,
    output: Float32Array,
    variant?: number,
    rectifier?: ConvRectifier,
  ): boolean;
  /**
   * The ways the backend's direct convolution can run, by name (the native backend: oneDNN's
   * blocked layout, 'blocked'; 'channels-last'; a strided layer as stride-1 convolutions over its
   * image's phases, 'phases'; and for the adjoint, those as forward convolutions, 'phases-forward';
   * Winograd F(2×2, 2×2) over the phases, ours, 'winograd'; the direct convolution of layers on the
   * image itself, 1 to 4 channels, ours, 'image'; Winograd F(4×4, 2×2), ours, 'winograd4'); timing
   * tries each. Absent: one, variant 0.
   */
  readonly directConvolutionVariants?: readonly string[];
  /**
   * Which way a pass of a layer should go, for a backend with directConvolution: 'direct',
   * 'gemm' (im2col/col2im + GEMM), or 'time': both are plausible here, so the caller times
   * them at the layer's first use and keeps the faster (direct unless GEMM is clearly faster).
   */
  convolutionPolicy?(pass: DirectConvPass, g: ConvGeometry, k: number): ConvolutionPolicy;

  unary(op: UnaryOp, x: Float32Array, out: Float32Array, alpha: number): void;
  /** dx = dy · f'(x); `y` = f(x) is passed because several derivatives are cheaper from it. */
  unaryBackward(op: UnaryOp, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, alpha: number): void;
  /** Elementwise with NumPy broadcasting; `outShape` is the broadcast shape. */
  binary(op: BinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, out: Float32Array, outShape: Shape): void;
  scalar(op: ScalarOp, x: Float32Array, s: number, out: Float32Array): void;

  /** Sums x over `axes` (sorted, unique); `out` has x's shape with those axes removed. */
  reduceSum(x: Float32Array, shape: Shape, axes: readonly number[], out: Float32Array): void;
  /** out = x with its axes reordered: out.shape[i] = shape[perm[i]]. */
  permute(x: Float32Array, shape: Shape, perm: readonly number[], out: Float32Array): void;
  /** Sums x [n, c, hw] over n and hw, per channel (a conv's bias gradient). */
  channelSum(x: Float32Array, n: number, c: number, hw: number, out: Float32Array): void;
  /** y [n, c, hw] += bias[c]. */
  addChannelBias(y: Float32Array, n: number, c: number, hw: number, bias: Float32Array): void;

  /** Per-channel mean and biased variance of x [n, c, hw]. */
  batchNormStats(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void;
  /**
   * y = (x − mean)·invStd·gamma + beta, per channel; gamma/beta null means 1/0. With a
   * `rectifierSlope`, a rectifier follows in the same pass: ReLU for 0 (as `unary('relu')`),
   * LeakyReLU with that negative slope above 0 (as `unary('leakyRelu')`).
   */
  batchNormApply(
    x: Float32Array, n: number, c: number, hw: number,
    mean: Float32Array, invStd: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
    rectifierSlope?: number | null,
  ): void;
  /**
   * Gradients of batchNormApply. With `batchStats` the mean and invStd were computed from x
   * itself, so their dependence on x is included (training mode); otherwise they are constants.
   * With `rectifier`, dy is the gradient of the output of batchNormApply with that slope (and
   * beta, and these mean, invStd and gamma); the rectifier's derivative is taken at the
   * normalised value, computed again from x (as `unaryBackward` with it for x; where it is NaN
   * a compiled backend may pass 0 instead of dy: the step is lost to NaN either way).
   */
  batchNormBackward(
    x: Float32Array, dy: Float32Array, n: number, c: number, hw: number,
    mean: Float32Array, invStd: Float32Array, gamma: Float32Array | null, batchStats: boolean,
    dx: Float32Array | null, dgamma: Float32Array | null, dbeta: Float32Array | null,
    rectifier?: FusedRectifier | null,
  ): void;

  /** Elementwise binary cross-entropy on logits, max(x,0) − x·t + log(1 + e^−|x|). */
  bceWithLogits(x: Float32Array, t: Float32Array, out: Float32Array): void;
  /** dx = dy·(σ(x) − t); dy has one value (broadcast) or one per element. */
  bceWithLogitsBackward(x: Float32Array, t: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Elementwise binary cross-entropy on probabilities, logs clamped at −100 as PyTorch does. */
  bce(p: Float32Array, t: Float32Array, out: Float32Array): void;
  bceBackward(p: Float32Array, t: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /** PyTorch's Adam (with L2 weight decay), in place on param, m and v. */
  adamUpdate(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void;
  /** PyTorch's SGD with momentum, in place on param and buf (buf unused when momentum is 0). */
  sgdUpdate(param: Float32Array, grad: Float32Array, buf: Float32Array | null, h: SgdHyper): void;

  /**
   * out[i] = mean + std·z for standard normal z, bitwise the numbers Generator.fillNormal draws from
   * `state` (its four xoshiro128** words: Generator.getState), which advances in place as the
   * generator's would. Optional: where it is missing, the generator draws them itself.
   */
  fillNormal?(state: Uint32Array, out: Float32Array, mean: number, std: number): void;
}
