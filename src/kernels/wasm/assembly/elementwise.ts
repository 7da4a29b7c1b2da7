// Elementwise kernels over [lo, hi) shares of flat arrays. Op codes: generated from src/kernels/op-codes.ts.
import { at, share } from './common';
import {
  U_RELU, U_LEAKY_RELU, U_TANH, U_SIGMOID, U_NEG, U_EXP, U_LOG, U_ABS, U_SQRT, U_SQUARE,
  B_ADD, B_SUB, B_MUL, B_DIV, S_ADD, S_SUB, S_RSUB, S_MUL, S_DIV, S_RDIV,
} from './op-codes';

// tanh and sigmoid four lanes at a time: the arithmetic of native/src/vmath.h (its comment has
// the method and the error bounds: tanh ≤ 1.5 ulp, sigmoid ≤ 2.5), operation for operation and
// never fused, so both backends give the same bits. Mathf's are scalar calls, 5–7 ns a value.

/** e^x for x in [-104.5, 88]: x = n·ln2 + r, a degree-7 polynomial, 2^n applied in two halves. */
@inline function exp4(x: v128): v128 {
  const shifter = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), shifter);
  const n = f32x4.sub(t, shifter);
  const k = i32x4.sub(t, shifter);
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(f32x4.splat(1.9875691500e-4), r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, z), r), f32x4.splat(1));
  const k1 = i32x4.shr_s(k, 1);
  const bias = i32x4.splat(127);
  const scale1 = i32x4.shl(i32x4.add(k1, bias), 23);
  const scale2 = i32x4.shl(i32x4.add(i32x4.sub(k, k1), bias), 23);
  return f32x4.mul(f32x4.mul(p, scale1), scale2);
}

@inline function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(ax, ax);
  let small = f32x4.add(f32x4.mul(f32x4.splat(-5.70498872745e-3), z), f32x4.splat(2.06390887954e-2));
  small = f32x4.sub(f32x4.mul(small, z), f32x4.splat(5.37397155531e-2));
  small = f32x4.add(f32x4.mul(small, z), f32x4.splat(1.33314422036e-1));
  small = f32x4.sub(f32x4.mul(small, z), f32x4.splat(3.33332819422e-1));
  small = f32x4.add(f32x4.mul(f32x4.mul(small, z), ax), ax);
  // Past 9.5 float tanh is 1; NaN fails the comparison and stays NaN.
  const c = v128.bitselect(f32x4.splat(9.5), ax, f32x4.gt(ax, f32x4.splat(9.5)));
  const one = f32x4.splat(1);
  const large = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(c, c)), one)));
  const magnitude = v128.bitselect(small, large, f32x4.lt(ax, f32x4.splat(0.625)));
  // copysign: the sign bit of x on the magnitude.
  return v128.bitselect(x, magnitude, i32x4.splat(0x80000000));
}

@inline function sigmoid4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const c = v128.bitselect(f32x4.splat(104.5), ax, f32x4.gt(ax, f32x4.splat(104.5)));
  const e = exp4(f32x4.neg(c));
  const one = f32x4.splat(1);
  return f32x4.div(v128.bitselect(one, e, f32x4.ge(x, f32x4.splat(0))), f32x4.add(one, e));
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
  } else if (op == U_TANH) {
    for (; i + 4 <= hi; i += 4) v128.store(at(out, i), tanh4(v128.load(at(x, i))));
  } else if (op == U_SIGMOID) {
    for (; i + 4 <= hi; i += 4) v128.store(at(out, i), sigmoid4(v128.load(at(x, i))));
  }
  for (; i < hi; i++) {
    const v = load<f32>(at(x, i));
    let r: f32 = 0;
    switch (op) {
      case U_RELU: r = v <= 0 ? 0 : v; break;
      case U_LEAKY_RELU: r = v > 0 ? v : alpha * v; break;
      // The tail in lane 0, for the same bits as the vector body.
      case U_TANH: r = f32x4.extract_lane(tanh4(f32x4.splat(v)), 0); break;
      case U_SIGMOID: r = f32x4.extract_lane(sigmoid4(f32x4.splat(v)), 0); break;
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
