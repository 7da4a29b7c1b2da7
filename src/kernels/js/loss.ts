/** Elementwise binary cross-entropy kernels, in PyTorch's numerically stable forms. */

export function bceWithLogits(x: Float32Array, t: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // max(v, 0) − v·t + log(1 + e^−|v|): no exp overflow for any v.
    out[i] = Math.max(v, 0) - v * t[i]! + Math.log1p(Math.exp(-Math.abs(v)));
  }
}

export function bceWithLogitsBackward(x: Float32Array, t: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const broadcast = dy.length === 1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const s = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
    dx[i] = (broadcast ? dy[0]! : dy[i]!) * (s - t[i]!);
  }
}

export function bce(p: Float32Array, t: Float32Array, out: Float32Array): void {
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    const logP = Math.max(Math.log(v), -100);
    const log1mP = Math.max(Math.log1p(-v), -100);
    out[i] = -(t[i]! * logP + (1 - t[i]!) * log1mP);
  }
}

export function bceBackward(p: Float32Array, t: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const broadcast = dy.length === 1;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    // PyTorch bounds the denominator so that p = 0 or 1 gives a large finite gradient.
    dx[i] = ((broadcast ? dy[0]! : dy[i]!) * (v - t[i]!)) / Math.max((1 - v) * v, 1e-12);
  }
}
