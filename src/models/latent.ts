/**
 * Walks through the latent space between two z vectors. For Gaussian z, ganhacks (Soumith
 * Chintala's "How to train a GAN", tip 3) recommends spherical interpolation: a straight line
 * between two samples passes near the origin, where z almost never lies (its norm concentrates
 * around √nz), while the great circle keeps the norm typical.
 */

/** (1 − t)·a + t·b. */
export function lerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number, out = new Float32Array(a.length)): Float32Array {
  checkLengths(a, b, out);
  for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!;
  return out;
}

/**
 * Spherical interpolation: sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, with Ω the angle between
 * a and b; falls back to lerp when they are (anti)parallel or one is zero.
 */
export function slerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number, out = new Float32Array(a.length)): Float32Array {
  checkLengths(a, b, out);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  const norms = Math.sqrt(na * nb);
  if (norms === 0) return lerp(a, b, t, out);
  const cos = Math.min(1, Math.max(-1, dot / norms));
  const omega = Math.acos(cos);
  const so = Math.sin(omega);
  if (so < 1e-6) return lerp(a, b, t, out);
  const wa = Math.sin((1 - t) * omega) / so;
  const wb = Math.sin(t * omega) / so;
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i]! + wb * b[i]!;
  return out;
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>, out: ArrayLike<number>): void {
  if (a.length !== b.length || out.length !== a.length) {
    throw new RangeError(`interpolation: vectors must have the same length, got ${a.length}, ${b.length} and output ${out.length}`);
  }
}

/**
 * `rows` walks of `steps` points each (endpoints included) between consecutive pairs of the
 * given endpoints (2·rows vectors of length nz, packed), row after row: [rows·steps·nz].
 */
export function latentWalks(endpoints: Float32Array, nz: number, rows: number, steps: number, spherical: boolean): Float32Array {
  if (endpoints.length !== 2 * rows * nz) throw new RangeError(`latentWalks: expected ${2 * rows} endpoints of length ${nz}`);
  if (!Number.isInteger(steps) || steps < 2) throw new RangeError(`latentWalks: steps must be an integer ≥ 2, got ${steps}`);
  const out = new Float32Array(rows * steps * nz);
  const mix = spherical ? slerp : lerp;
  for (let r = 0; r < rows; r++) {
    const a = endpoints.subarray(2 * r * nz, (2 * r + 1) * nz);
    const b = endpoints.subarray((2 * r + 1) * nz, (2 * r + 2) * nz);
    for (let s = 0; s < steps; s++) mix(a, b, s / (steps - 1), out.subarray((r * steps + s) * nz, (r * steps + s + 1) * nz));
  }
  return out;
}
