import type { BinaryOp, ScalarOp, UnaryOp } from '../backend.js';
import { stridesOf, sameShape, type Shape } from '../../tensor/shape.js';

function sigmoid(v: number): number {
  // Two forms so that exp never overflows.
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export function unary(op: UnaryOp, x: Float32Array, out: Float32Array, alpha: number): void {
  const n = x.length;
  switch (op) {
    case 'relu':
      // As PyTorch: NaN passes through (x ≤ 0 is false for it).
      for (let i = 0; i < n; i++) out[i] = x[i]! <= 0 ? 0 : x[i]!;
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? x[i]! : alpha * x[i]!;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]!);
      return;
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i]!;
      return;
    case 'exp':
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!);
      return;
    case 'log':
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!);
      return;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!);
      return;
    case 'square':
      for (let i = 0; i < n; i++) out[i] = x[i]! * x[i]!;
      return;
  }
}

export function unaryBackward(op: UnaryOp, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, alpha: number): void {
  const n = x.length;
  switch (op) {
    case 'relu':
      for (let i = 0; i < n; i++) dx[i] = x[i]! <= 0 ? 0 : dy[i]!;
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : alpha * dy[i]!;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) dx[i] = dy[i]! * (1 - y[i]! * y[i]!);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) dx[i] = dy[i]! * y[i]! * (1 - y[i]!);
      return;
    case 'neg':
      for (let i = 0; i < n; i++) dx[i] = -dy[i]!;
      return;
    case 'exp':
      for (let i = 0; i < n; i++) dx[i] = dy[i]! * y[i]!;
      return;
    case 'log':
      for (let i = 0; i < n; i++) dx[i] = dy[i]! / x[i]!;
      return;
    case 'abs':
      for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : x[i]! < 0 ? -dy[i]! : 0;
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) dx[i] = dy[i]! / (2 * y[i]!);
      return;
    case 'square':
      for (let i = 0; i < n; i++) dx[i] = 2 * x[i]! * dy[i]!;
      return;
  }
}

function apply(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
  }
}

/** Strides of `shape` seen from a broadcast `outShape`: 0 along stretched or missing axes. */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((d, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]!));
}

export function binary(op: BinaryOp, a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, out: Float32Array, outShape: Shape): void {
  const n = out.length;
  if (sameShape(aShape, outShape) && sameShape(bShape, outShape)) {
    for (let i = 0; i < n; i++) out[i] = apply(op, a[i]!, b[i]!);
    return;
  }
  if (b.length === 1 && a.length === n) {
    const bv = b[0]!;
    for (let i = 0; i < n; i++) out[i] = apply(op, a[i]!, bv);
    return;
  }
  if (a.length === 1 && b.length === n) {
    const av = a[0]!;
    for (let i = 0; i < n; i++) out[i] = apply(op, av, b[i]!);
    return;
  }
  // General case: walk the output with an odometer, advancing both input offsets.
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < n; i++) {
    out[i] = apply(op, a[ia]!, b[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += sa[d]!;
      ib += sb[d]!;
      if (idx[d]! < outShape[d]!) break;
      ia -= sa[d]! * outShape[d]!;
      ib -= sb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export function scalar(op: ScalarOp, x: Float32Array, s: number, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++) out[i] = x[i]! + s;
      return;
    case 'sub':
      for (let i = 0; i < n; i++) out[i] = x[i]! - s;
      return;
    case 'rsub':
      for (let i = 0; i < n; i++) out[i] = s - x[i]!;
      return;
    case 'mul':
      for (let i = 0; i < n; i++) out[i] = x[i]! * s;
      return;
    case 'div':
      for (let i = 0; i < n; i++) out[i] = x[i]! / s;
      return;
    case 'rdiv':
      for (let i = 0; i < n; i++) out[i] = s / x[i]!;
      return;
    case 'pow':
      for (let i = 0; i < n; i++) out[i] = Math.pow(x[i]!, s);
      return;
  }
}
