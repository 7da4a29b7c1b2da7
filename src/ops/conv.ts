import { needsGrad, record } from '../autograd/record.js';
import { gemmParams, type ConvGeometry, type ConvRectifier, type DirectConvPass } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { activateInPlace, convRectifier, throughActivation, type FusedActivation } from './activation.js';
import { empty } from './create.js';
import { chooseAlgorithm, fastestDirect, medianMs, type Timing } from './conv-algorithm.js';

/** A size given once for both spatial axes, or as [height, width]. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
}

export interface Conv2dFusedOptions extends Conv2dOptions {
  /** A ReLU or LeakyReLU applied in the output buffer (conv2d only; see FusedActivation). */
  activation?: FusedActivation;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns on the bottom/right of the output; must be smaller than the stride. */
  outputPadding?: Pair;
  /** Ask for an exact output size instead; the output padding that gives it is derived (PyTorch's output_size). */
  outputSize?: readonly [number, number];
}

function pair(value: Pair | undefined, fallback: number, name: string, op: string, min: number): [number, number] {
  const [a, b] = value === undefined ? [fallback, fallback] : typeof value === 'number' ? [value, value] : value;
  for (const v of [a, b]) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${op}: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return [a, b];
}

function checkRank4(op: string, name: string, t: Tensor, layout: string): void {
  if (t.ndim !== 4) throw new RangeError(`${op}: ${name} must be 4-D ${layout}, got shape ${shapeToString(t.shape)}`);
}

function checkBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(`${op}: bias must have shape [${channels}], got ${shapeToString(bias.shape)}`);
  }
}

export interface Conv2dPlan {
  /** im2col geometry: the image side is the conv input. */
  geometry: ConvGeometry;
  outChannels: number;
}

/** Validates a convolution and derives its output size (floor division, as PyTorch). */
export function planConv2d(xShape: readonly number[], wShape: readonly number[], options: Conv2dOptions = {}): Conv2dPlan {
  const op = 'conv2d';
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [cout, cin, kh, kw] = wShape as [number, number, number, number];
  if (c !== cin) {
    throw new RangeError(`${op}: input ${shapeToString(xShape)} has ${c} channels but weight ${shapeToString(wShape)} expects ${cin}`);
  }
  const [sh, sw] = pair(options.stride, 1, 'stride', op, 1);
  const [ph, pw] = pair(options.padding, 0, 'padding', op, 0);
  if (kh > h + 2 * ph || kw > w + 2 * pw) {
    throw new RangeError(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + 2 * ph}×${w + 2 * pw} (input ${shapeToString(xShape)}, padding ${ph},${pw})`,
    );
  }
  const outH = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const outW = Math.floor((w + 2 * pw - kw) / sw) + 1;
  return { geometry: { n, c, h, w, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, outH, outW }, outChannels: cout };
}

/**
 * Column buffers (im2col of part of the batch) are kept at or below this many bytes: the batch
 * is convolved in chunks of images, so a layer's columns cost a bounded amount of memory
 * whatever the batch and image size, as PyTorch's per-image loops and oneDNN's direct
 * convolutions do, while each GEMM still spans several images' columns.
 */
let columnBudgetBytes = 8 * 2 ** 20;

/** Sets the column budget (bytes); returns the previous one. For measurements and tests. */
export function setConvColumnBudget(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`setConvColumnBudget: bytes must be a non-negative number, got ${bytes}`);
  const previous = columnBudgetBytes;
  columnBudgetBytes = bytes;
  return previous;
}

/** Images per chunk: as many as fit in the column budget, at least one. */
function imagesPerChunk(g: ConvGeometry, rows: number): number {
  const perImage = rows * g.outH * g.outW * 4;
  return Math.max(1, Math.min(g.n, Math.floor(columnBudgetBytes / perImage)));
}

/**
 * The column side [n, K, plane] of images n0… as the channel-major matrix [K, n·plane] the
 * GEMMs take: a view when it is one image, else a copy into `scratch`.
 */
function channelMajor(data: Float32Array, n0: number, nc: number, k: number, plane: number, scratch: Float32Array | null): Float32Array {
  const block = data.subarray(n0 * k * plane, (n0 + nc) * k * plane);
  if (nc === 1) return block;
  const out = scratch!.subarray(0, nc * k * plane);
  getBackend().permute(block, [nc, k, plane], [1, 0, 2], out);
  return out;
}

/*
 * The three convolution primitives (DESIGN.md §2). Geometry g has an image side [N, C, H, W]
 * and a column side [N, K, outH, outW]; the weights are the matrix W [K, C·kH·kW] (conv2d's
 * [Cout, Cin, kH, kW], or convTranspose2d's [Cin, Cout, kH, kW] — the same numbers). conv2d is
 * `convolve` forward and `convolveAdjoint` + `convolveWeightGrad` backward; convTranspose2d is
 * `convolveAdjoint` forward and `convolve` + `convolveWeightGrad` backward: C and Cᵀ swap roles.
 * Each has two algorithms: im2col/col2im of a chunk of images and one GEMM over the chunk's
 * columns (imagesPerChunk), or the backend's direct convolution of the whole batch without
 * columns (Backend.directConvolution), as the backend's convolutionPolicy says — timed at the
 * layer's first use where it says 'time' (chooseAlgorithm).
 */


/**
 * Whether one window covers the whole image (a column side of one position, no padding): G's
 * projection from the latent vector, D's last layer. Then im2col is the image itself, row by row,
 * and each pass is one GEMM over the tensors as they lie, with no columns, permutes or col2im.
 */
function windowCoversImage(g: ConvGeometry): boolean {
  return g.outH === 1 && g.outW === 1 && g.padH === 0 && g.padW === 0 && g.kh === g.h && g.kw === g.w;
}

/**
 * The buffers of the im2col / col2im + GEMM path: the columns of a chunk of images (none where
 * the backend makes them while packing, Backend.convGemm, and `forAdjoint` does not need them for
 * col2im), and the chunk's column-side data in channel-major order (several images only). Made
 * once for the runs that time the path, so those runs reuse memory as a planned training step does.
 */
interface GemmWorkspace {
  chunk: number;
  columns: Tensor | null;
  channelMajor: Tensor | null;
}

function gemmWorkspace(g: ConvGeometry, k: number, forAdjoint = false): GemmWorkspace {
  const plane = g.outH * g.outW;
  const rows = g.c * g.kh * g.kw;
  // Without stored columns, the budget bounds the channel-major copy instead. Column rows shorter
  // than 4 (a 1×1 column side: G's projection, D's last layer) pay more per value made while packing.
  const implicit = !forAdjoint && g.outW >= 4 && getBackend().convGemm !== undefined;
  const chunk = imagesPerChunk(g, implicit ? k : rows);
  return { chunk, columns: implicit ? null : empty([rows, chunk * plane]), channelMajor: chunk > 1 ? empty([k, chunk * plane]) : null };
}

function releaseWorkspace(ws: GemmWorkspace): void {
  ws.columns?.dispose();
  ws.channelMajor?.dispose();
}

/**
 * im2col + GEMM: image [N, C, H, W] → W·im2col(image) into `out` [N, K, outH, outW], a chunk of
 * images at a time. The workspace's columns then hold the last chunk's (the whole batch's when
 * one chunk holds it).
 */
function convolveByGemm(image: Tensor, weight: Tensor, g: ConvGeometry, k: number, out: Tensor, ws: GemmWorkspace): void {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  for (let n0 = 0; n0 < g.n; n0 += ws.chunk) {
    const nc = Math.min(ws.chunk, g.n - n0);
    const images = image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize);
    const target = out.data.subarray(n0 * k * plane, (n0 + nc) * k * plane);
    // One image's W·columns [K, plane] is already its NCHW slice; several need [K, n, plane] → [n, K, plane].
    const cnhw = nc === 1 ? target : ws.channelMajor!.data.subarray(0, k * nc * plane);
    const p = gemmParams({ m: k, n: nc * plane, k: rows });
    if (ws.columns === null) {
      // Straight into the NCHW output where the backend can (then no permute).
      if (nc > 1 && backend.convGemm!(p, weight.data, images, { ...g, n: nc }, target, { out: true })) continue;
      backend.convGemm!(p, weight.data, images, { ...g, n: nc }, cnhw);
    } else {
      const cols = ws.columns.data.subarray(0, rows * nc * plane);
      backend.im2col(images, { ...g, n: nc }, cols);
      backend.gemm(p, weight.data, cols, cnhw);
    }
    if (nc > 1) backend.permute(cnhw, [k, nc, plane], [1, 0, 2], target);
  }
}

/** col2im + GEMM: column-side data y [N, K, outH, outW] → col2im(Wᵀ·y) into `image` [N, C, H, W]. */
function adjointByGemm(y: Tensor, weight: Tensor, g: ConvGeometry, k: number, image: Tensor, ws: GemmWorkspace): void {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  for (let n0 = 0; n0 < g.n; n0 += ws.chunk) {
    const nc = Math.min(ws.chunk, g.n - n0);
    const cols = ws.columns!.data.subarray(0, rows * nc * plane);
    const yc = channelMajor(y.data, n0, nc, k, plane, ws.channelMajor?.data ?? null);
    backend.gemm(gemmParams({ transA: true, m: rows, n: nc * plane, k }), weight.data, yc, cols);
    backend.col2im(cols, { ...g, n: nc }, image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize));
  }
}

/**
 * im2col + GEMM: the weight gradient y·im2col(image)ᵀ into `grad`, summed over the batch chunk
 * by chunk; with `columnsReady` the workspace already holds the whole batch's columns (kept by
 * `convolve`), and it is one GEMM.
 */
function weightGradByGemm(y: Tensor, image: Tensor, g: ConvGeometry, k: number, grad: Tensor, ws: GemmWorkspace, columnsReady: boolean): void {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  for (let n0 = 0; n0 < g.n; n0 += ws.chunk) {
    const nc = Math.min(ws.chunk, g.n - n0);
    const images = image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize);
    const p = gemmParams({ transB: true, m: k, n: rows, k: nc * plane, beta: n0 === 0 ? 0 : 1 });
    // dy's images as they lie where the backend reads them so (then no permute).
    const dy = y.data.subarray(n0 * k * plane, (n0 + nc) * k * plane);
    if (ws.columns === null && backend.convGemm!(p, dy, images, { ...g, n: nc }, grad.data, { in: true })) continue;
    const yc = channelMajor(y.data, n0, nc, k, plane, ws.channelMajor?.data ?? null);
    if (ws.columns === null) {
      backend.convGemm!(p, yc, images, { ...g, n: nc }, grad.data);
      continue;
    }
    const c = ws.columns.data.subarray(0, rows * nc * plane);
    if (!columnsReady) backend.im2col(images, { ...g, n: nc }, c);
    backend.gemm(p, yc, c, grad.data);
  }
}

/**
 * Image [N, C, H, W] → W·im2col(image) as [N, K, outH, outW]. When asked (the weight gradient
 * follows), also returns the columns — only when GEMM did it and one chunk held the whole
 * batch (else the weight gradient recomputes them, or convolves directly). With a rectifier,
 * `rectified` says whether the direct convolution applied it (else the caller does).
 */
function convolve(
  image: Tensor,
  weight: Tensor,
  g: ConvGeometry,
  k: number,
  keepColumns: boolean,
  rectifier?: ConvRectifier,
): { out: Tensor; columns: Tensor | null; rectified: boolean } {
  const backend = getBackend();
  const out = empty([g.n, k, g.outH, g.outW]);
  if (windowCoversImage(g)) {
    // out [N, K] = image [N, C·kH·kW] · Wᵀ
    backend.gemm(gemmParams({ transB: true, m: g.n, n: k, k: g.c * g.kh * g.kw }), image.data, weight.data, out.data);
    return { out, columns: null, rectified: false };
  }
  const direct = (variant: number, rect?: ConvRectifier): boolean =>
    backend.directConvolution!('convolve', image.data, weight.data, g, k, out.data, variant, rect);
  const { algorithm, variant } = chooseAlgorithm('convolve', g, k, keepColumns, () => {
    const ws = gemmWorkspace(g, k);
    const byGemm = (): void => convolveByGemm(image, weight, g, k, out, ws);
    let timed: Timing;
    if (!keepColumns) {
      timed = { ...fastestDirect(direct), gemmMs: medianMs(byGemm)! };
    } else {
      // With the weight gradient to follow, each algorithm is timed with its own: GEMM's from the
      // columns it just made (when one chunk holds the batch), the direct one's as that pass's own
      // choice decides (out stands in for dy).
      const grad = empty([k, g.c, g.kh, g.kw]);
      const fastest = fastestDirect(direct);
      const weightsMs = fastest.directMs === null ? 0 : medianMs(() => weightGradWithoutColumns(out, image, g, k, grad))!;
      const gemmMs = medianMs(() => {
        byGemm();
        weightGradByGemm(out, image, g, k, grad, ws, ws.columns !== null && ws.chunk === g.n);
      })!;
      grad.dispose();
      timed = { directMs: fastest.directMs === null ? null : fastest.directMs + weightsMs, variant: fastest.variant, gemmMs };
    }
    releaseWorkspace(ws);
    return timed;
  });
  if (algorithm === 'direct') {
    if (rectifier !== undefined && direct(variant, rectifier)) return { out, columns: null, rectified: true };
    if (direct(variant)) return { out, columns: null, rectified: false };
  }
  const ws = gemmWorkspace(g, k);
  convolveByGemm(image, weight, g, k, out, ws);
  ws.channelMajor?.dispose();
  const keep = keepColumns && ws.chunk === g.n && ws.columns !== null;
  if (!keep) ws.columns?.dispose();
  return { out, columns: keep ? ws.columns : null, rectified: false };
}

/**
 * A rectifier's gradient (the gradient at its output) on its way into the adjoint or the weight
 * gradient of the convolution before it: how a direct convolution passes it back through the
 * rectifier as it reads it (`rectifier`), and how to do that in a pass of its own (`separately`).
 */
interface RectifiedGradient {
  rectifier: ConvRectifier;
  separately: () => Tensor;
}

/**
 * Column-side data [N, K, outH, outW] → col2im(Wᵀ·y) as the image [N, C, H, W]. With `through`, y
 * is a rectifier's gradient: passed back through it inside the direct convolution where timing
 * finds that faster than the rectifier's own pass and the plain adjoint (ConvolutionChoice.rectified).
 */
function convolveAdjoint(y: Tensor, weight: Tensor, g: ConvGeometry, k: number, through?: RectifiedGradient): Tensor {
  const backend = getBackend();
  if (through !== undefined) {
    const plain = (dz: Tensor): Tensor => convolveAdjoint(dz, weight, g, k);
    const image = empty([g.n, g.c, g.h, g.w]);
    const fused = (variant: number): boolean => backend.directConvolution!('adjoint', y.data, weight.data, g, k, image.data, variant, through.rectifier);
    if (fusedWhereFaster('adjoint', g, k, through, fused, (dz) => plain(dz).dispose())) return image;
    image.dispose();
    return onSeparateGradient(through, plain);
  }
  const image = empty([g.n, g.c, g.h, g.w]);
  if (windowCoversImage(g)) {
    // image [N, C·kH·kW] = y [N, K] · W
    backend.gemm(gemmParams({ m: g.n, n: g.c * g.kh * g.kw, k }), y.data, weight.data, image.data);
    return image;
  }
  const direct = (variant: number): boolean => backend.directConvolution!('adjoint', y.data, weight.data, g, k, image.data, variant);
  // Image by image where the backend can (no stored columns, no permute of y); else col2im + GEMM over chunks.
  const byImages = (): boolean => backend.convAdjointByImages?.(weight.data, y.data, g, k, image.data) === true;
  const byGemm = (): void => {
    if (byImages()) return;
    const ws = gemmWorkspace(g, k, true);
    adjointByGemm(y, weight, g, k, image, ws);
    releaseWorkspace(ws);
  };
  const { algorithm, variant } = chooseAlgorithm('adjoint', g, k, false, () => {
    const ws = backend.convAdjointByImages === undefined ? gemmWorkspace(g, k, true) : null;
    const timed = { ...fastestDirect(direct), gemmMs: medianMs(() => (ws === null ? byGemm() : adjointByGemm(y, weight, g, k, image, ws)))! };
    if (ws !== null) releaseWorkspace(ws);
    return timed;
  });
  if (!(algorithm === 'direct' && direct(variant))) byGemm();
  return image;
}

/** `plain` run on the rectifier's gradient made in a pass of its own. */
function onSeparateGradient<T>(through: RectifiedGradient, plain: (dz: Tensor) => T): T {
  const dz = through.separately();
  const result = plain(dz);
  dz.dispose();
  return result;
}

/**
 * Whether the layer's rectified choice is a direct variant with the rectifier inside (`fused`),
 * and it ran: timed at first use against the rectifier's own pass followed by `plain`.
 */
function fusedWhereFaster(pass: DirectConvPass, g: ConvGeometry, k: number, through: RectifiedGradient, fused: (variant: number) => boolean, plain: (dz: Tensor) => void): boolean {
  if (windowCoversImage(g)) return false;
  const timing = (): Timing => ({ ...fastestDirect(fused), gemmMs: medianMs(() => onSeparateGradient(through, plain))! });
  const { algorithm, variant } = chooseAlgorithm(pass, g, k, false, timing, true);
  return algorithm === 'direct' && fused(variant);
}

/**
 * The weight gradient into `grad` when no columns were kept: the direct convolution, or GEMM over
 * recomputed columns. With `through`, y is a rectifier's gradient (as convolveAdjoint's).
 */
function weightGradWithoutColumns(y: Tensor, image: Tensor, g: ConvGeometry, k: number, grad: Tensor, through?: RectifiedGradient): void {
  const backend = getBackend();
  if (through !== undefined) {
    const plain = (dz: Tensor): void => weightGradWithoutColumns(dz, image, g, k, grad);
    const fused = (variant: number): boolean => backend.directConvolution!('weights', image.data, y.data, g, k, grad.data, variant, through.rectifier);
    if (!fusedWhereFaster('weights', g, k, through, fused, plain)) onSeparateGradient(through, plain);
    return;
  }
  if (windowCoversImage(g)) {
    // dW [K, C·kH·kW] = yᵀ [K, N] · image [N, C·kH·kW]
    backend.gemm(gemmParams({ transA: true, m: k, n: g.c * g.kh * g.kw, k: g.n }), y.data, image.data, grad.data);
    return;
  }
  const direct = (variant: number): boolean => backend.directConvolution!('weights', image.data, y.data, g, k, grad.data, variant);
  const { algorithm, variant } = chooseAlgorithm('weights', g, k, false, () => {
    const ws = gemmWorkspace(g, k);
    const timed = { ...fastestDirect(direct), gemmMs: medianMs(() => weightGradByGemm(y, image, g, k, grad, ws, false))! };
    releaseWorkspace(ws);
    return timed;
  });
  if (algorithm === 'direct' && direct(variant)) return;
  const ws = gemmWorkspace(g, k);
  weightGradByGemm(y, image, g, k, grad, ws, false);
  releaseWorkspace(ws);
}

/**
 * The weight gradient y·im2col(image)ᵀ [K, C·kH·kW], shaped `weightShape`, from column-side
 * data y [N, K, outH, outW]; with `columns` kept by `convolve` (and still alive) it is one GEMM
 * over them, which it disposes.
 */
function convolveWeightGrad(y: Tensor, image: Tensor, columns: Tensor | null, g: ConvGeometry, k: number, weightShape: Shape): Tensor {
  const grad = empty(weightShape);
  if (columns !== null && !columns.isDisposed) {
    const ws: GemmWorkspace = { chunk: g.n, columns, channelMajor: g.n > 1 ? empty([k, g.n * g.outH * g.outW]) : null };
    weightGradByGemm(y, image, g, k, grad, ws, true);
    releaseWorkspace(ws);
  } else {
    weightGradWithoutColumns(y, image, g, k, grad);
  }
  return grad;
}

/** 2-D convolution (cross-correlation, as every framework) of x [N, Cin, H, W] with weight [Cout, Cin, kH, kW]. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dFusedOptions = {}): Tensor {
  checkRank4('conv2d', 'input', x, '[N, C, H, W]');
  checkRank4('conv2d', 'weight', weight, '[Cout, Cin, kH, kW]');
  const { geometry: g, outChannels: cout } = planConv2d(x.shape, weight.shape, options);
  checkBias('conv2d', bias, cout);
  const plane = g.outH * g.outW;
  // A rectifier right after the convolution (no bias between) can run inside its passes.
  const activation = options.activation;
  const rectifier = bias === null ? convRectifier('conv2d', activation) : undefined;
  // The weight gradient needs the same columns: where they fit in one chunk, keeping them until
  // backward saves an im2col per layer and step for at most the column budget.
  const { out, columns, rectified } = convolve(x, weight, g, cout, needsGrad(weight), rectifier);
  if (bias !== null) getBackend().addChannelBias(out.data, g.n, cout, plane, bias.data);
  if (!rectified) activateInPlace('conv2d', activation, out);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, activation === undefined ? 'conv2d' : `conv2d+${activation.op}`, inputs, (dOut) => {
    // Where one pass alone needs the gradient before the rectifier (D's first layer: the weights in
    // D's step, the input in G's), that pass computes it as it reads dOut; it is never stored.
    if (rectifier !== undefined && x.requiresGrad !== weight.requiresGrad && (columns === null || columns.isDisposed)) {
      const through = { rectifier: { ...rectifier, activated: out.data }, separately: () => throughActivation(activation, out, dOut) };
      if (x.requiresGrad) return [convolveAdjoint(dOut, weight, g, cout, through), null];
      const gw = empty(weight.shape);
      weightGradWithoutColumns(dOut, x, g, cout, gw, through);
      return [null, gw];
    }
    const dy = throughActivation(activation, out, dOut);
    // Backward-data is exactly a transposed convolution of dy.
    const gx = x.requiresGrad ? convolveAdjoint(dy, weight, g, cout) : null;
    // Recomputed when they were not kept, a tidy scope released them first, or on a second backward with retainGraph.
    const gw = weight.requiresGrad ? convolveWeightGrad(dy, x, columns, g, cout, weight.shape) : null;
    columns?.dispose();
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      getBackend().channelSum(dy.data, g.n, cout, plane, gb.data);
    }
    if (dy !== dOut) dy.dispose();
    return bias === null ? [gx, gw] : [gx, gw, gb];
  });
}

export interface ConvTranspose2dPlan {
  /** col2im geometry: the image side is the transposed conv's output, the column side its input. */
  geometry: ConvGeometry;
  inChannels: number;
  outputPadding: [number, number];
}

/** Validates a transposed convolution: out = (in − 1)·stride − 2·padding + kernel + outputPadding. */
export function planConvTranspose2d(xShape: readonly number[], wShape: readonly number[], options: ConvTranspose2dOptions = {}): ConvTranspose2dPlan {
  const op = 'convTranspose2d';
  const [n, cin, h, w] = xShape as [number, number, number, number];
  const [win, cout, kh, kw] = wShape as [number, number, number, number];
  if (cin !== win) {
    throw new RangeError(`${op}: input ${shapeToString(xShape)} has ${cin} channels but weight ${shapeToString(wShape)} (layout [Cin, Cout, kH, kW]) expects ${win}`);
  }
  const [sh, sw] = pair(options.stride, 1, 'stride', op, 1);
  const [ph, pw] = pair(options.padding, 0, 'padding', op, 0);
  const baseH = (h - 1) * sh - 2 * ph + kh;
  const baseW = (w - 1) * sw - 2 * pw + kw;
  let [oph, opw] = pair(options.outputPadding, 0, 'outputPadding', op, 0);
  if (options.outputSize !== undefined) {
    const [wantH, wantW] = options.outputSize;
    oph = wantH - baseH;
    opw = wantW - baseW;
    if (!Number.isInteger(wantH) || !Number.isInteger(wantW) || oph < 0 || opw < 0 || oph >= sh || opw >= sw) {
      throw new RangeError(
        `${op}: output size ${wantH}×${wantW} cannot be reached from input ${shapeToString(xShape)} with kernel ${kh}×${kw}, stride ${sh},${sw}, padding ${ph},${pw} ` +
          `(reachable: ${baseH}..${baseH + sh - 1} × ${baseW}..${baseW + sw - 1})`,
      );
    }
  }
  if (oph >= sh || opw >= sw) {
    throw new RangeError(`${op}: outputPadding ${oph},${opw} must be smaller than the stride ${sh},${sw}`);
  }
  const outH = baseH + oph;
  const outW = baseW + opw;
  if (outH < 1 || outW < 1) {
    throw new RangeError(`${op}: output size ${outH}×${outW} is not positive (input ${shapeToString(xShape)}, kernel ${kh}×${kw}, padding ${ph},${pw})`);
  }
  return {
    geometry: { n, c: cout, h: outH, w: outW, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, outH: h, outW: w },
    inChannels: cin,
    outputPadding: [oph, opw],
  };
}

/**
 * Transposed convolution of x [N, Cin, H, W] with weight [Cin, Cout, kH, kW]: the adjoint of
 * conv2d (multiplication by Cᵀ), so its forward pass is conv2d's backward-data and its
 * backward-data an ordinary convolution of dy.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  checkRank4('convTranspose2d', 'input', x, '[N, C, H, W]');
  checkRank4('convTranspose2d', 'weight', weight, '[Cin, Cout, kH, kW]');
  const { geometry: g, inChannels: cin } = planConvTranspose2d(x.shape, weight.shape, options);
  checkBias('convTranspose2d', bias, g.c);
  const out = convolveAdjoint(x, weight, g, cin);
  if (bias !== null) getBackend().addChannelBias(out.data, g.n, g.c, g.h * g.w, bias.data);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, 'convTranspose2d', inputs, (dy) => {
    let gx: Tensor | null = null;
    let columns: Tensor | null = null;
    if (x.requiresGrad) {
      // One im2col of dy serves both gradients; the result is [N, Cin, H, W], x's shape.
      ({ out: gx, columns } = convolve(dy, weight, g, cin, weight.requiresGrad));
    }
    let gw: Tensor | null = null;
    if (weight.requiresGrad) gw = convolveWeightGrad(x, dy, columns, g, cin, weight.shape);
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      getBackend().channelSum(dy.data, g.n, g.c, g.h * g.w, gb.data);
    }
    return bias === null ? [gx, gw] : [gx, gw, gb];
  });
}
