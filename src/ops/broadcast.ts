import { record } from '../autograd/record.js';
import { getBackend } from '../kernels/registry.js';
import { broadcastShapes, sameShape, shapeToString, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

/** Sums a broadcast gradient back to the shape of the input it came from. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const offset = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const out = empty(shape);
  getBackend().reduceSum(g.data, g.shape, axes, out.data);
  return out;
}

/** Repeats x along its size-1 (or missing leading) axes to `shape`, as torch's expand (but copying). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const target = broadcastShapes(x.shape, shape);
  if (target === null || !sameShape(target, shape)) {
    throw new RangeError(`expand: cannot broadcast shape ${shapeToString(x.shape)} to ${shapeToString(shape)}`);
  }
  const out = empty(shape);
  getBackend().binary('add', x.data, x.shape, new Float32Array(1), [], out.data, shape);
  return record(out, 'expand', [x], (g) => [unbroadcast(g, x.shape)]);
}
