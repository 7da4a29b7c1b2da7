import { record } from '../autograd/record.js';
import { getBackend } from '../kernels/registry.js';
import { normalizeAxis, shapeToString, sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty } from './create.js';

/** A view with another shape (same storage, no copy); one dimension may be −1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new RangeError(`reshape: only one dimension can be -1, got ${shapeToString(shape)}`);
  let resolved = [...shape];
  if (unknown === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new RangeError(`reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} values) to ${shapeToString(shape)}`);
    }
    resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  if (resolved.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(resolved) !== x.size) {
    throw new RangeError(`reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} values) to ${shapeToString(shape)}`);
  }
  return record(x.viewAs(resolved), 'reshape', [x], (g) => [g.viewAs(x.shape)]);
}

export const view = reshape;

/** Flattens axes startDim..endDim into one (torch.flatten). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeAxis(startDim, x.ndim, 'flatten');
  const e = normalizeAxis(endDim, x.ndim, 'flatten');
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const merged = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Reorders axes (a copy, so the result is contiguous). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const normalized = perm.map((p) => normalizeAxis(p, x.ndim, 'permute'));
  if (normalized.length !== x.ndim || new Set(normalized).size !== x.ndim) {
    throw new RangeError(`permute: [${perm.join(', ')}] is not a permutation of the ${x.ndim} axes of ${shapeToString(x.shape)}`);
  }
  const out = empty(normalized.map((p) => x.shape[p]!));
  getBackend().permute(x.data, x.shape, normalized, out.data);
  const inverse = new Array<number>(x.ndim);
  normalized.forEach((p, i) => (inverse[p] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, dim0 = 0, dim1 = 1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const a = normalizeAxis(dim0, x.ndim, 'transpose');
  const b = normalizeAxis(dim1, x.ndim, 'transpose');
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** The same values, cut off from the graph (shares storage). */
export function detach(x: Tensor): Tensor {
  return x.viewAs(x.shape);
}

/** A copy that stays in the graph. */
export function clone(x: Tensor): Tensor {
  const out = empty(x.shape);
  out.data.set(x.data);
  return record(out, 'clone', [x], (g) => [g]);
}
