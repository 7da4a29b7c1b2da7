import { needsGrad, record } from '../autograd/record.js';
import type { ConvGeometry } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';
import { gemmParams } from './matmul.js';

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

/**
 * 2-D convolution (cross-correlation, as every framework) of x [N, Cin, H, W] with
 * weight [Cout, Cin, kH, kW]: im2col of the whole batch, then one GEMM, y = W · cols.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  checkRank4('conv2d', 'input', x, '[N, C, H, W]');
  checkRank4('conv2d', 'weight', weight, '[Cout, Cin, kH, kW]');
  const { geometry: g, outChannels: cout } = planConv2d(x.shape, weight.shape, options);
  checkBias('conv2d', bias, cout);
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW;
  const cols = g.n * plane;
  const backend = getBackend();
  const patches = empty([rows, cols]);
  backend.im2col(x.data, g, patches.data);
  const yCnhw = empty([cout, g.n, plane]);
  backend.gemm(gemmParams({ m: cout, n: cols, k: rows }), weight.data, patches.data, yCnhw.data);
  // The weight gradient needs the same columns: keeping them until backward saves an im2col
  // per layer and step (~5% of a DCGAN step) for as much memory as one layer's columns.
  const savedPatches = needsGrad(weight) ? patches : null;
  if (savedPatches === null) patches.dispose();
  const flat = swapLeading(yCnhw, cout, g.n, plane);
  yCnhw.dispose();
  const out = flat.viewAs([g.n, cout, g.outH, g.outW]);
  flat.dispose();
  if (bias !== null) backend.addChannelBias(out.data, g.n, cout, plane, bias.data);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, 'conv2d', inputs, (dy) => {
    const be = getBackend();
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    const dyCnhw = swapLeading(dy, g.n, cout, plane);
    if (x.requiresGrad) {
      // Backward-data: dcols = Wᵀ·dy, then col2im — exactly a transposed convolution.
      const dcols = empty([rows, cols]);
      be.gemm(gemmParams({ transA: true, m: rows, n: cols, k: cout }), weight.data, dyCnhw.data, dcols.data);
      gx = empty(x.shape);
      be.col2im(dcols.data, g, gx.data);
      dcols.dispose();
    }
    if (weight.requiresGrad) {
      // Backward-filter: dW = dy·colsᵀ over the whole batch, on the columns the forward kept
      // (recomputed when a tidy scope released them first, or on a second backward with retainGraph).
      let columns = savedPatches;
      if (columns === null || columns.isDisposed) {
        columns = empty([rows, cols]);
        be.im2col(x.data, g, columns.data);
      }
      gw = empty(weight.shape);
      be.gemm(gemmParams({ transB: true, m: cout, n: rows, k: cols }), dyCnhw.data, columns.data, gw.data);
      columns.dispose();
    }
    savedPatches?.dispose();
    dyCnhw.dispose();
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      be.channelSum(dy.data, g.n, cout, plane, gb.data);
    }
    return [gx, gw, gb];
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
 * conv2d — cols = Wᵀ·x for the whole batch, then col2im. It is conv2d's backward-data with the roles swapped.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  checkRank4('convTranspose2d', 'input', x, '[N, C, H, W]');
  checkRank4('convTranspose2d', 'weight', weight, '[Cin, Cout, kH, kW]');
  const { geometry: g, inChannels: cin } = planConvTranspose2d(x.shape, weight.shape, options);
  checkBias('convTranspose2d', bias, g.c);
  const rows = g.c * g.kh * g.kw;
  const plane = g.outH * g.outW; // the input's spatial size
  const cols = g.n * plane;
  const backend = getBackend();
  const xCnhw = swapLeading(x, g.n, cin, plane);
  const patches = empty([rows, cols]);
  backend.gemm(gemmParams({ transA: true, m: rows, n: cols, k: cin }), weight.data, xCnhw.data, patches.data);
  xCnhw.dispose();
  const out = empty([g.n, g.c, g.h, g.w]);
  backend.col2im(patches.data, g, out.data);
  patches.dispose();
  if (bias !== null) backend.addChannelBias(out.data, g.n, g.c, g.h * g.w, bias.data);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(out, 'convTranspose2d', inputs, (dy) => {
    const be = getBackend();
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad || weight.requiresGrad) {
      const dcols = empty([rows, cols]);
      be.im2col(dy.data, g, dcols.data);
      if (x.requiresGrad) {
        // Backward-data is an ordinary convolution of dy: dx = W·im2col(dy).
        const gxCnhw = empty([cin, g.n, plane]);
        be.gemm(gemmParams({ m: cin, n: cols, k: rows }), weight.data, dcols.data, gxCnhw.data);
        const flat = swapLeading(gxCnhw, cin, g.n, plane);
        gxCnhw.dispose();
        gx = flat.viewAs(x.shape);
        flat.dispose();
      }
      if (weight.requiresGrad) {
        const xc = swapLeading(x, g.n, cin, plane);
        gw = empty(weight.shape);
        be.gemm(gemmParams({ transB: true, m: cin, n: rows, k: cols }), xc.data, dcols.data, gw.data);
        xc.dispose();
      }
      dcols.dispose();
    }
    if (bias?.requiresGrad) {
      gb = empty(bias.shape);
      be.channelSum(dy.data, g.n, g.c, g.h * g.w, gb.data);
    }
    return [gx, gw, gb];
  });
}
