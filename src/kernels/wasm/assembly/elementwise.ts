// Elementwise kernels over [lo, hi) shares of flat arrays. Op codes: generated from src/kernels/op-codes.ts.
import { at, share } from './common';
import {
  U_RELU, U_LEAKY_RELU, U_TANH, U_SIGMOID, U_NEG, U_EXP, U_LOG, U_ABS, U_SQRT, U_SQUARE,
  B_ADD, B_SUB, B_MUL, B_DIV, S_ADD, S_SUB, S_RSUB, S_MUL, S_DIV, S_RDIV,
} from './op-codes';

@inline function sigmoid(v: f32): f32 {
  if (v >= 0) return 1 / (1 + Mathf.exp(-v));
  const e = Mathf.exp(v);
  return e / (1 + e);
}

export function unary(tid: i32, nthreads: i32, op: i32, x: usize, out: usize, n: i32, alpha: f32): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  let i = lo;
  if (op == U_RELU || op == U_LEAKY_RELU) {
    const zero = f32x4.splat(0);
    const slope = f32x4.splat(op == U_RELU ? <f32>0 : alpha);
    for (; i + 4 <= hi; i += 4) {
      const v = v128.load(at(x, i));
      // PyTorch: relu passes NaN on (x ≤ 0 is false for it), leaky relu tests x > 0.
      const positive = op == U_RELU ? v128.not(f32x4.le(v, zero)) : f32x4.gt(v, zero);
      v128.store(at(out, i), v128.bitselect(v, f32x4.mul(v, slope), positive));
    }
  } else if (op == U_SQUARE) {
    for (; i + 4 <= hi; i += 4) {
      const v = v128.load(at(x, i));
      v128.store(at(out, i), f32x4.mul(v, v));
    }
  }
  for (; i < hi; i++) {
    const v = load<f32>(at(x, i));
    let r: f32 = 0;
    switch (op) {
      case U_RELU: r = v <= 0 ? 0 : v; break;
      case U_LEAKY_RELU: r = v > 0 ? v : alpha * v; break;
      case U_TANH: r = Mathf.tanh(v); break;
      case U_SIGMOID: r = sigmoid(v); break;
      case U_NEG: r = -v; break;
      case U_EXP: r = Mathf.exp(v); break;
      case U_LOG: r = Mathf.log(v); break;
      case U_ABS: r = Mathf.abs(v); break;
      case U_SQRT: r = Mathf.sqrt(v); break;
      case U_SQUARE: r = v * v; break;
      default: unreachable();
    }
    store<f32>(at(out, i), r);
  }
}

export function unaryBackward(tid: i32, nthreads: i32, op: i32, x: usize, y: usize, dy: usize, dx: usize, n: i32, alpha: f32): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  let i = lo;
  if (op == U_RELU || op == U_LEAKY_RELU) {
    const zero = f32x4.splat(0);
    const slope = f32x4.splat(op == U_RELU ? <f32>0 : alpha);
    for (; i + 4 <= hi; i += 4) {
      const g = v128.load(at(dy, i));
      const xv = v128.load(at(x, i));
      const positive = op == U_RELU ? v128.not(f32x4.le(xv, zero)) : f32x4.gt(xv, zero);
      v128.store(at(dx, i), v128.bitselect(g, f32x4.mul(g, slope), positive));
    }
  } else if (op == U_TANH) {
    const one = f32x4.splat(1);
    for (; i + 4 <= hi; i += 4) {
      const t = v128.load(at(y, i));
      v128.store(at(dx, i), f32x4.mul(v128.load(at(dy, i)), f32x4.sub(one, f32x4.mul(t, t))));
    }
  }
  for (; i < hi; i++) {
    const v = load<f32>(at(x, i));
    const t = load<f32>(at(y, i));
    const g = load<f32>(at(dy, i));
    let r: f32 = 0;
    switch (op) {
      case U_RELU: r = v <= 0 ? 0 : g; break;
      case U_LEAKY_RELU: r = v > 0 ? g : alpha * g; break;
      case U_TANH: r = g * (1 - t * t); break;
      case U_SIGMOID: r = g * t * (1 - t); break;
      case U_NEG: r = -g; break;
      case U_EXP: r = g * t; break;
      case U_LOG: r = g / v; break;
      case U_ABS: r = v > 0 ? g : v < 0 ? -g : 0; break;
      case U_SQRT: r = g / (2 * t); break;
      case U_SQUARE: r = 2 * v * g; break;
      default: unreachable();
    }
    store<f32>(at(dx, i), r);
  }
}

// Binary ops. `bScalar`: b has one value, broadcast.
export function binary(tid: i32, nthreads: i32, op: i32, a: usize, b: usize, out: usize, n: i32, bScalar: i32): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  let i = lo;
  const s = bScalar != 0 ? v128.load32_splat(b) : f32x4.splat(0);
  for (; i + 4 <= hi; i += 4) {
    const va = v128.load(at(a, i));
    const vb = bScalar != 0 ? s : v128.load(at(b, i));
    let r = f32x4.splat(0);
    if (op == B_ADD) r = f32x4.add(va, vb);
    else if (op == B_SUB) r = f32x4.sub(va, vb);
    else if (op == B_MUL) r = f32x4.mul(va, vb);
    else if (op == B_DIV) r = f32x4.div(va, vb);
    else unreachable();
    v128.store(at(out, i), r);
  }
  for (; i < hi; i++) {
    const va = load<f32>(at(a, i));
    const vb = bScalar != 0 ? load<f32>(b) : load<f32>(at(b, i));
    let r: f32 = 0;
    if (op == B_ADD) r = va + vb;
    else if (op == B_SUB) r = va - vb;
    else if (op == B_MUL) r = va * vb;
    else if (op == B_DIV) r = va / vb;
    else unreachable();
    store<f32>(at(out, i), r);
  }
}

// Scalar ops (pow stays on the host).
export function scalar(tid: i32, nthreads: i32, op: i32, x: usize, s: f32, out: usize, n: i32): void {
  const lo = share(n, tid, nthreads);
  const hi = share(n, tid + 1, nthreads);
  const vs = f32x4.splat(s);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const v = v128.load(at(x, i));
    let r = f32x4.splat(0);
    switch (op) {
      case S_ADD: r = f32x4.add(v, vs); break;
      case S_SUB: r = f32x4.sub(v, vs); break;
      case S_RSUB: r = f32x4.sub(vs, v); break;
      case S_MUL: r = f32x4.mul(v, vs); break;
      case S_DIV: r = f32x4.div(v, vs); break;
      case S_RDIV: r = f32x4.div(vs, v); break;
      default: unreachable();
    }
    v128.store(at(out, i), r);
  }
  for (; i < hi; i++) {
    const v = load<f32>(at(x, i));
    let r: f32 = 0;
    switch (op) {
      case S_ADD: r = v + s; break;
      case S_SUB: r = v - s; break;
      case S_RSUB: r = s - v; break;
      case S_MUL: r = v * s; break;
      case S_DIV: r = v / s; break;
      case S_RDIV: r = s / v; break;
      default: unreachable();
    }
    store<f32>(at(out, i), r);
  }
}

/** [a, b, rest] → [b, a, rest] (NCHW ↔ CNHW); rows of `rest` are copied whole. Split over a. */
export function swapLeading(tid: i32, nthreads: i32, x: usize, a: i32, b: i32, rest: i32, out: usize): void {
  const i0 = share(a, tid, nthreads);
  const i1 = share(a, tid + 1, nthreads);
  const bytes = <usize>rest << 2;
  for (let i = i0; i < i1; i++) {
    for (let j = 0; j < b; j++) memory.copy(at(out, (j * a + i) * rest), at(x, (i * b + j) * rest), bytes);
  }
}

/** Per-channel sums of x [n, c, hw] (float64 accumulation), split over channels. */
export function channelSum(tid: i32, nthreads: i32, x: usize, n: i32, c: i32, hw: i32, out: usize): void {
  const c0 = share(c, tid, nthreads);
  const c1 = share(c, tid + 1, nthreads);
  for (let ch = c0; ch < c1; ch++) {
    let s: f64 = 0;
    for (let img = 0; img < n; img++) {
      const base = at(x, (img * c + ch) * hw);
      for (let i = 0; i < hw; i++) s += <f64>load<f32>(base + (<usize>i << 2));
    }
    store<f32>(at(out, ch), <f32>s);
  }
}

export function addChannelBias(tid: i32, nthreads: i32, y: usize, n: i32, c: i32, hw: i32, bias: usize): void {
  const rows = n * c;
  const r0 = share(rows, tid, nthreads);
  const r1 = share(rows, tid + 1, nthreads);
  for (let r = r0; r < r1; r++) {
    const bv = load<f32>(at(bias, r % c));
    const base = at(y, r * hw);
    for (let i = 0; i < hw; i++) {
      const p = base + (<usize>i << 2);
      store<f32>(p, load<f32>(p) + bv);
    }
  }
}
