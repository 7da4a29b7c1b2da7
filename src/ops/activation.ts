import { record } from '../autograd/record.js';
import type { UnaryOp } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

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
