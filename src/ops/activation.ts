import { record } from '../autograd/record.js';
import type { ConvRectifier, UnaryOp } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

/**
 * An activation an op applies to its own output buffer (convolution or BatchNorm followed by
 * ReLU/LeakyReLU, as every DCGAN block is): one activation-sized buffer fewer, and the backward
 * reads the activation's derivative from that output. Only ReLU and LeakyReLU with a slope
 * ≥ 0, whose output is positive exactly where their input is.
 */
export type FusedActivation = { op: 'relu' } | { op: 'leakyRelu'; negativeSlope: number };

/** The negative slope of a fused rectifier (0 for ReLU), checked. */
export function fusedSlope(opName: string, activation: FusedActivation): number {
  const slope = activation.op === 'leakyRelu' ? activation.negativeSlope : 0;
  if (!(slope >= 0)) throw new RangeError(`${opName}: a fused leakyRelu needs a slope ≥ 0, got ${slope}`);
  return slope;
}

/**
 * The rectifier a direct convolution can run in its own passes (Backend.directConvolution), if
 * any: ReLU as slope 0, LeakyReLU with a positive slope. A LeakyReLU of slope 0 keeps a pass of
 * its own: its 0·x is −0 where ReLU's is 0.
 */
export function convRectifier(opName: string, activation: FusedActivation | undefined): ConvRectifier | undefined {
  if (activation === undefined) return undefined;
  const slope = fusedSlope(opName, activation);
  return activation.op === 'relu' || slope > 0 ? { slope } : undefined;
}

/** Applies `activation` (if any) to `out` in place; checks it first. */
export function activateInPlace(opName: string, activation: FusedActivation | undefined, out: Tensor): void {
  if (activation !== undefined) getBackend().unary(activation.op, out.data, out.data, fusedSlope(opName, activation));
}

/** dy through the fused activation, from the op's (activated) output; dy itself when there is none. */
export function throughActivation(activation: FusedActivation | undefined, out: Tensor, dy: Tensor): Tensor {
  if (activation === undefined) return dy;
  const dz = empty(out.shape);
  getBackend().unaryBackward(activation.op, out.data, out.data, dy.data, dz.data, fusedSlope('backward', activation));
  return dz;
}

function unaryOp(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  const out = empty(x.shape);
  getBackend().unary(op, x.data, out.data, alpha);
  return record(out, op, [x], (g) => {
    const dx = empty(x.shape);
    getBackend().unaryBackward(op, x.data, out.data, g.data, dx.data, alpha);
    return [dx];
  });
}

export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
/** max(x, 0) + slope·min(x, 0); PyTorch's default slope is 0.01, DCGAN's discriminator uses 0.2. */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => unaryOp('leakyRelu', x, negativeSlope);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
