import { record } from '../autograd/record.js';
import { getBackend } from '../kernels/registry.js';
import { sameShape, shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { full, empty } from './create.js';
import { mean, sum } from './reduce.js';
import { square } from './activation.js';
import { sub } from './arithmetic.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  reduction?: Reduction;
}

function targetFor(op: string, input: Tensor, target: Tensor | number): Tensor {
  if (typeof target === 'number') return full(input.shape, target);
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(`${op}: target shape ${shapeToString(target.shape)} must match input shape ${shapeToString(input.shape)}`);
  }
  return target;
}

function reduce(op: string, perElement: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case 'none':
      return perElement;
    case 'sum':
      return sum(perElement);
    case 'mean':
      return mean(perElement);
    default:
      throw new RangeError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

/**
 * Binary cross-entropy on logits, stable for any logit (PyTorch's BCEWithLogitsLoss).
 * `target` is a tensor of the input's shape or one number for every element (1 = real, 0 = fake).
 * The target is a constant: no gradient flows into it.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor | number, options: LossOptions = {}): Tensor {
  const t = targetFor('binaryCrossEntropyWithLogits', input, target);
  const perElement = empty(input.shape);
  getBackend().bceWithLogits(input.data, t.data, perElement.data);
  record(perElement, 'binaryCrossEntropyWithLogits', [input], (g) => {
    const dx = empty(input.shape);
    getBackend().bceWithLogitsBackward(input.data, t.data, g.data, dx.data);
    return [dx];
  });
  return reduce('binaryCrossEntropyWithLogits', perElement, options.reduction ?? 'mean');
}

/** Binary cross-entropy on probabilities in [0, 1] (PyTorch's BCELoss, logs clamped at −100). */
export function binaryCrossEntropy(input: Tensor, target: Tensor | number, options: LossOptions = {}): Tensor {
  const t = targetFor('binaryCrossEntropy', input, target);
  const values = input.data;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= 1)) {
      throw new RangeError(`binaryCrossEntropy: input values must be probabilities in [0, 1], found ${v} at index ${i} (use binaryCrossEntropyWithLogits for logits)`);
    }
  }
  const perElement = empty(input.shape);
  getBackend().bce(input.data, t.data, perElement.data);
  record(perElement, 'binaryCrossEntropy', [input], (g) => {
    const dx = empty(input.shape);
    getBackend().bceBackward(input.data, t.data, g.data, dx.data);
    return [dx];
  });
  return reduce('binaryCrossEntropy', perElement, options.reduction ?? 'mean');
}

/** Mean squared error (PyTorch's MSELoss). */
export function mseLoss(input: Tensor, target: Tensor | number, options: LossOptions = {}): Tensor {
  const t = targetFor('mseLoss', input, target);
  return reduce('mseLoss', square(sub(input, t)), options.reduction ?? 'mean');
}
