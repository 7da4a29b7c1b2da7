import { needsGrad, record } from '../autograd/record.js';
import { gemmParams, type ConvGeometry } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { activateInPlace, throughActivation, type FusedActivation } from './activation.js';
import { empty } from './create.js';

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
 * Each works through the batch in chunks (imagesPerChunk): im2col/col2im of a chunk, one GEMM
 * over the chunk's columns — unless the backend offers a direct convolution for the pass and
 * layer (Backend.directConvolution), which then does the whole batch without columns.
 */

/**
 * Image [N, C, H, W] → W·im2col(image) as [N, K, outH, outW]. When asked, also returns the
 * columns for the weight gradient — only when one chunk holds the whole batch (else they
 * are recomputed there, chunk by chunk).
 */
function convolve(image: Tensor, weight: Tensor, g: ConvGeometry, k: number, keepColumns: boolean): { out: Tensor; columns: Tensor | null } {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  const out = empty([g.n, k, g.outH, g.outW]);
  // A backend's direct convolution, where it has one and judges it faster: no columns to keep.
  if (backend.directConvolution?.('convolve', image.data, weight.data, g, k, out.data) === true) return { out, columns: null };
  const chunk = imagesPerChunk(g, rows);
  const columns = empty([rows, chunk * plane]);
  const product = chunk > 1 ? empty([k, chunk * plane]) : null;
  for (let n0 = 0; n0 < g.n; n0 += chunk) {
    const nc = Math.min(chunk, g.n - n0);
    const cols = columns.data.subarray(0, rows * nc * plane);
    backend.im2col(image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize), { ...g, n: nc }, cols);
    const target = out.data.subarray(n0 * k * plane, (n0 + nc) * k * plane);
    // One image's W·columns [K, plane] is already its NCHW slice; several need [K, n, plane] → [n, K, plane].
    const cnhw = nc === 1 ? target : product!.data.subarray(0, k * nc * plane);
    backend.gemm(gemmParams({ m: k, n: nc * plane, k: rows }), weight.data, cols, cnhw);
    if (nc > 1) backend.permute(cnhw, [k, nc, plane], [1, 0, 2], target);
  }
  product?.dispose();
  const keep = keepColumns && chunk === g.n;
  if (!keep) columns.dispose();
  return { out, columns: keep ? columns : null };
}

/** Column-side data [N, K, outH, outW] → col2im(Wᵀ·y) as the image [N, C, H, W]. */
function convolveAdjoint(y: Tensor, weight: Tensor, g: ConvGeometry, k: number): Tensor {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  const image = empty([g.n, g.c, g.h, g.w]);
  if (backend.directConvolution?.('adjoint', y.data, weight.data, g, k, image.data) === true) return image;
  const chunk = imagesPerChunk(g, rows);
  const columns = empty([rows, chunk * plane]);
  const scratch = chunk > 1 ? empty([k, chunk * plane]) : null;
  for (let n0 = 0; n0 < g.n; n0 += chunk) {
    const nc = Math.min(chunk, g.n - n0);
    const cols = columns.data.subarray(0, rows * nc * plane);
    const yc = channelMajor(y.data, n0, nc, k, plane, scratch?.data ?? null);
    backend.gemm(gemmParams({ transA: true, m: rows, n: nc * plane, k }), weight.data, yc, cols);
    backend.col2im(cols, { ...g, n: nc }, image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize));
  }
  scratch?.dispose();
  columns.dispose();
  return image;
}

/**
 * The weight gradient y·im2col(image)ᵀ [K, C·kH·kW], shaped `weightShape`, from column-side
 * data y [N, K, outH, outW], summed over the batch chunk by chunk; `columns` (im2col of the
 * whole batch, kept by `convolve`) is used when given and still alive. Disposes the columns it used.
 */
function convolveWeightGrad(y: Tensor, image: Tensor, columns: Tensor | null, g: ConvGeometry, k: number, weightShape: Shape): Tensor {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const imageSize = g.c * g.h * g.w;
  const backend = getBackend();
  const kept = columns !== null && !columns.isDisposed;
  const grad = empty(weightShape);
  // With the columns kept this is one GEMM; without them, a direct convolution may be cheaper than recomputing them.
  if (!kept && backend.directConvolution?.('weights', image.data, y.data, g, k, grad.data) === true) return grad;
  const chunk = kept ? g.n : imagesPerChunk(g, rows);
  const cols = kept ? columns : empty([rows, chunk * plane]);
  const scratch = chunk > 1 ? empty([k, chunk * plane]) : null;
  for (let n0 = 0; n0 < g.n; n0 += chunk) {
    const nc = Math.min(chunk, g.n - n0);
    const c = cols.data.subarray(0, rows * nc * plane);
    if (!kept) backend.im2col(image.data.subarray(n0 * imageSize, (n0 + nc) * imageSize), { ...g, n: nc }, c);
    const yc = channelMajor(y.data, n0, nc, k, plane, scratch?.data ?? null);
    backend.gemm(gemmParams({ transB: true, m: k, n: rows, k: nc * plane, beta: n0 === 0 ? 0 : 1 }), yc, c, grad.data);
  }
  scratch?.dispose();
  cols.dispose();
  return grad;
}

/** 2-D convolution (cross-correlation, as every framework) of x [N, Cin, H, W] with weight [Cout, Cin, kH, kW]. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dFusedOptions = {}): Tensor {
  checkRank4('conv2d', 'input', x, '[N, C, H, W]');
  checkRank4('conv2d', 'weight', weight, '[Cout, Cin, kH, kW]');
  const { geometry: g, outChannels: cout } = planConv2d(x.shape, weight.shape, options);
  checkBias('conv2d', bias, cout);
  const plane = g.outH * g.outW;
  // The weight gradient needs the same columns: where they fit in one chunk, keeping them until
  // backward saves an im2col per layer and step for at most the column budget.
  const { out, columns } = convolve(x, weight, g, cout, needsGrad(weight));
  if (bias !== null) getBackend().addChannelBias(out.data, g.n, cout, plane, bias.data);
  const activation = options.activation;
  activateInPlace('conv2d', activation, out);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, activation === undefined ? 'conv2d' : `conv2d+${activation.op}`, inputs, (dOut) => {
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
