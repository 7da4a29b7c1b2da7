import { record } from '../autograd/record.js';
import type { BinaryOp } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';
import { broadcastShapes, shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { unbroadcast } from './broadcast.js';
import { empty } from './create.js';

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  if (shape === null) {
    throw new RangeError(`${op}: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} cannot be broadcast together`);
  }
  const out = empty(shape);
  getBackend().binary(op, a.data, a.shape, b.data, b.shape, out.data, shape);
  return out;
}

function scalarOut(op: 'add' | 'sub' | 'rsub' | 'mul' | 'div' | 'rdiv' | 'pow', x: Tensor, s: number): Tensor {
  const out = empty(x.shape);
  getBackend().scalar(op, x.data, s, out.data);
  return out;
}

/** a + b with broadcasting; b may be a number. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return record(scalarOut('add', a, b), 'add', [a], (g) => [g]);
  return record(binaryOp('add', a, b), 'add', [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)]);
}

/** a − b with broadcasting; b may be a number. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return record(scalarOut('sub', a, b), 'sub', [a], (g) => [g]);
  return record(binaryOp('sub', a, b), 'sub', [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(neg(g), b.shape)]);
}

/** s − x for a number s. */
export function rsub(x: Tensor, s: number): Tensor {
  return record(scalarOut('rsub', x, s), 'rsub', [x], (g) => [neg(g)]);
}

/** a · b elementwise with broadcasting; b may be a number. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return record(scalarOut('mul', a, b), 'mul', [a], (g) => [scalarOut('mul', g, b)]);
  return record(binaryOp('mul', a, b), 'mul', [a, b], (g) => [
    a.requiresGrad ? unbroadcast(binaryOp('mul', g, b), a.shape) : null,
    b.requiresGrad ? unbroadcast(binaryOp('mul', g, a), b.shape) : null,
  ]);
}

/** a / b elementwise with broadcasting; b may be a number. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return record(scalarOut('div', a, b), 'div', [a], (g) => [scalarOut('div', g, b)]);
  return record(binaryOp('div', a, b), 'div', [a, b], (g) => {
    const ga = a.requiresGrad ? unbroadcast(binaryOp('div', g, b), a.shape) : null;
    let gb: Tensor | null = null;
    if (b.requiresGrad) {
      // d(a/b)/db = −a/b²
      const q = binaryOp('div', binaryOp('div', g, b), b);
      gb = unbroadcast(neg(binaryOp('mul', q, a)), b.shape);
    }
    return [ga, gb];
  });
}

/** s / x for a number s. */
export function rdiv(x: Tensor, s: number): Tensor {
  const out = scalarOut('rdiv', x, s);
  return record(out, 'rdiv', [x], (g) => [neg(binaryOp('div', binaryOp('mul', g, out), x))]);
}

/** x to a constant power. */
export function pow(x: Tensor, exponent: number): Tensor {
  return record(scalarOut('pow', x, exponent), 'pow', [x], (g) => [
    binaryOp('mul', g, scalarOut('mul', scalarOut('pow', x, exponent - 1), exponent)),
  ]);
}

export function neg(x: Tensor): Tensor {
  const out = empty(x.shape);
  getBackend().unary('neg', x.data, out.data, 0);
  return record(out, 'neg', [x], (g) => [neg(g)]);
}
