import { needsGrad, record } from '../autograd/record.js';
import { gemmParams, type ConvGeometry } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

/** A size given once for both spatial axes, or as [height, width]. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
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
 * Swaps the two leading axes of [a, b, rest] data: NCHW ↔ CNHW. The GEMMs work on the
 * channel-major CNHW layout (batch merged into the columns); with one image it is a no-op.
 */
function swapLeading(data: Tensor, a: number, b: number, rest: number): Tensor {
  if (a === 1 || b === 1) return data.viewAs([b, a, rest]);
  const out = empty([b, a, rest]);
  getBackend().permute(data.data, [a, b, rest], [1, 0, 2], out.data);
  return out;
}

/*
 * The three convolution primitives (DESIGN.md §2). Geometry g has an image side [N, C, H, W]
 * and a column side [N, K, outH, outW]; the weights are the matrix W [K, C·kH·kW] (conv2d's
 * [Cout, Cin, kH, kW], or convTranspose2d's [Cin, Cout, kH, kW] — the same numbers). conv2d is
 * `convolve` forward and `convolveAdjoint` + `convolveWeightGrad` backward; convTranspose2d is
 * `convolveAdjoint` forward and `convolve` + `convolveWeightGrad` backward: C and Cᵀ swap roles.
 */

/** Image [N, C, H, W] → W·im2col(image) as [N, K, outH, outW]; also returns the columns when asked to keep them. */
function convolve(image: Tensor, weight: Tensor, g: ConvGeometry, k: number, keepColumns: boolean): { out: Tensor; columns: Tensor | null } {
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const backend = getBackend();
  const columns = empty([rows, g.n * plane]);
  backend.im2col(image.data, g, columns.data);
  const outCnhw = empty([k, g.n, plane]);
  backend.gemm(gemmParams({ m: k, n: g.n * plane, k: rows }), weight.data, columns.data, outCnhw.data);
  if (!keepColumns) columns.dispose();
  const flat = swapLeading(outCnhw, k, g.n, plane);
  outCnhw.dispose();
  const out = flat.viewAs([g.n, k, g.outH, g.outW]);
  flat.dispose();
  return { out, columns: keepColumns ? columns : null };
}

/** Column-side data in channel-major layout [K, N·outH·outW] → col2im(Wᵀ·y) as the image [N, C, H, W]. */
function convolveAdjoint(yCnhw: Tensor, weight: Tensor, g: ConvGeometry, k: number): Tensor {
  const rows = g.c * g.kh * g.kw;
  const backend = getBackend();
  const columns = empty([rows, g.n * g.outH * g.outW]);
  backend.gemm(gemmParams({ transA: true, m: rows, n: g.n * g.outH * g.outW, k }), weight.data, yCnhw.data, columns.data);
  const image = empty([g.n, g.c, g.h, g.w]);
  backend.col2im(columns.data, g, image.data);
  columns.dispose();
  return image;
}

/**
 * The weight gradient y·im2col(image)ᵀ [K, C·kH·kW], shaped `weightShape`, from channel-major
 * column-side data; `columns` (im2col of the image) is used when given and still alive,
 * otherwise recomputed. Disposes the columns it used.
 */
function convolveWeightGrad(yCnhw: Tensor, image: Tensor, columns: Tensor | null, g: ConvGeometry, k: number, weightShape: Shape): Tensor {
  const rows = g.c * g.kh * g.kw;
  const backend = getBackend();
  let cols = columns;
  if (cols === null || cols.isDisposed) {
    cols = empty([rows, g.n * g.outH * g.outW]);
    backend.im2col(image.data, g, cols.data);
  }
  const grad = empty(weightShape);
  backend.gemm(gemmParams({ transB: true, m: k, n: rows, k: g.n * g.outH * g.outW }), yCnhw.data, cols.data, grad.data);
  cols.dispose();
  return grad;
}

/** 2-D convolution (cross-correlation, as every framework) of x [N, Cin, H, W] with weight [Cout, Cin, kH, kW]. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  checkRank4('conv2d', 'input', x, '[N, C, H, W]');
  checkRank4('conv2d', 'weight', weight, '[Cout, Cin, kH, kW]');
  const { geometry: g, outChannels: cout } = planConv2d(x.shape, weight.shape, options);
  checkBias('conv2d', bias, cout);
  const plane = g.outH * g.outW;
  // The weight gradient needs the same columns: keeping them until backward saves an im2col
  // per layer and step for as much memory as one layer's columns.
  const { out, columns } = convolve(x, weight, g, cout, needsGrad(weight));
  if (bias !== null) getBackend().addChannelBias(out.data, g.n, cout, plane, bias.data);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, 'conv2d', inputs, (dy) => {
    const dyCnhw = swapLeading(dy, g.n, cout, plane);
    // Backward-data is exactly a transposed convolution of dy.
    const gx = x.requiresGrad ? convolveAdjoint(dyCnhw, weight, g, cout) : null;
    // Recomputed when a tidy scope released the columns first, or on a second backward with retainGraph.
    const gw = weight.requiresGrad ? convolveWeightGrad(dyCnhw, x, columns, g, cout, weight.shape) : null;
    columns?.dispose();
    dyCnhw.dispose();
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      getBackend().channelSum(dy.data, g.n, cout, plane, gb.data);
    }
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
  const plane = g.outH * g.outW; // the input's spatial size
  const xCnhw = swapLeading(x, g.n, cin, plane);
  const out = convolveAdjoint(xCnhw, weight, g, cin);
  xCnhw.dispose();
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
    if (weight.requiresGrad) {
      const xc = swapLeading(x, g.n, cin, plane);
      gw = convolveWeightGrad(xc, dy, columns, g, cin, weight.shape);
      xc.dispose();
    }
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      getBackend().channelSum(dy.data, g.n, g.c, g.h * g.w, gb.data);
    }
    return bias === null ? [gx, gw] : [gx, gw, gb];
  });
}
