import { record } from '../autograd/record.js';
import { getBackend } from '../kernels/registry.js';
import { normalizeAxis } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expand } from './broadcast.js';
import { empty } from './create.js';
import { mul } from './arithmetic.js';

export interface ReduceOptions {
  /** Keep reduced axes as size 1, as PyTorch's keepdim. */
  keepDim?: boolean;
}

function resolveAxes(x: Tensor, axes: number | readonly number[] | undefined, where: string): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normalizeAxis(a, x.ndim, where));
  if (new Set(list).size !== list.length) throw new RangeError(`${where}: axis listed twice in [${list.join(', ')}]`);
  return list.sort((a, b) => a - b);
}

/** Sum over the given axes (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const list = resolveAxes(x, axes, 'sum');
  const keptShape = x.shape.map((d, i) => (list.includes(i) ? 1 : d));
  const outShape = options.keepDim ? keptShape : x.shape.filter((_, i) => !list.includes(i));
  const out = empty(outShape);
  getBackend().reduceSum(x.data, x.shape, list, out.data);
  return record(out, 'sum', [x], (g) => {
    const kept = g.viewAs(keptShape);
    const grad = expand(kept, x.shape);
    kept.dispose();
    return [grad];
  });
}

/** Mean over the given axes (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const list = resolveAxes(x, axes, 'mean');
  const count = list.reduce((n, a) => n * x.shape[a]!, 1);
  return mul(sum(x, list, options), 1 / count);
}
