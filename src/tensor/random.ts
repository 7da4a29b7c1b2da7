/**
 * A seeded random number generator that gives the same numbers on every platform.
 *
 * The integer core is xoshiro128** (32-bit words, so only Math.imul and shifts are needed).
 * Normal samples use Box–Muller, but with our own log and sin/cos built from + − × ÷ and
 * sqrt only: those are correctly rounded by IEEE-754, whereas Math.log / Math.cos may differ
 * in the last bit between engines, which would break "same seed, same numbers everywhere".
 * The native backend draws the same normal samples in C (native/src/random.c, Backend.fillNormal;
 * test/native-random.test.ts holds them bitwise equal): a change here is a change there.
 */

export interface GeneratorState {
  readonly s: readonly [number, number, number, number];
}

const LN2 = 0.6931471805599453;
const HALF_PI = 1.5707963267948966;

// Scratch buffer to read the exponent and mantissa bits of a double (deterministic frexp).
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // index of the high word

/** Natural log of a positive finite double, accurate to ~1e-15, from basic IEEE operations only. */
export function detLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) {
    throw new RangeError(`detLog: argument must be positive and finite, got ${x}`);
  }
  let e = 0;
  if (x < 2.2250738585072014e-308) {
    x *= 18014398509481984; // 2^54: lift subnormals into the normal range
    e -= 54;
  }
  f64[0] = x;
  const hi = u32[HI]!;
  e += ((hi >>> 20) & 0x7ff) - 1023;
  u32[HI] = (hi & 0x000fffff) | 0x3ff00000; // mantissa m in [1, 2)
  let m = f64[0]!;
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.1716: the odd series converges fast.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let term = s;
  let sum = 0;
  for (let k = 1; k <= 21; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return e * LN2 + 2 * sum;
}

// cos a and sin a for a in [0, π/2): Taylor series to a^20 / a^21, error below 1e-15.
function cosSeries(a2: number): number {
  let sum = 0;
  let term = 1;
  for (let k = 0; k <= 10; k++) {
    sum += term;
    term *= -a2 / ((2 * k + 1) * (2 * k + 2));
  }
  return sum;
}

function sinSeries(a: number, a2: number): number {
  let sum = 0;
  let term = a;
  for (let k = 0; k <= 10; k++) {
    sum += term;
    term *= -a2 / ((2 * k + 2) * (2 * k + 3));
  }
  return sum;
}

/** [cos(2πu), sin(2πu)] for u in [0, 1), from basic IEEE operations only. */
export function detCosSin2Pi(u: number): [number, number] {
  const q4 = u * 4;
  const quadrant = Math.floor(q4) & 3;
  const a = (q4 - Math.floor(q4)) * HALF_PI; // a in [0, π/2)
  const c = cosSeries(a * a);
  const s = sinSeries(a, a * a);
  switch (quadrant) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

/** cos(2πu): detCosSin2Pi(u)[0], computing only the series its quadrant needs (normal samples take the cosine alone). */
export function detCos2Pi(u: number): number {
  const q4 = u * 4;
  const quadrant = Math.floor(q4) & 3;
  const a = (q4 - Math.floor(q4)) * HALF_PI;
  switch (quadrant) {
    case 0:
      return cosSeries(a * a);
    case 1:
      return -sinSeries(a, a * a);
    case 2:
      return -cosSeries(a * a);
    default:
      return sinSeries(a, a * a);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32: spreads a user seed over the generator state. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Reseeds; any finite number works (it is reduced to two 32-bit halves). */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new RangeError(`manualSeed: seed must be finite, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
    const mix = { x: (lo ^ Math.imul(hi, 0x27d4eb2d)) | 0 };
    this.s0 = splitmix32(mix);
    this.s1 = splitmix32(mix);
    this.s2 = splitmix32(mix);
    this.s3 = splitmix32(mix);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
    return this;
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits, so every value is exactly a float32. */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) * 5.960464477539063e-8;
  }

  /** Standard normal sample (Box–Muller with deterministic log / cos). */
  nextNormal(): number {
    const u1 = 1 - this.nextFloat(); // (0, 1]: log is finite
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * detLog(u1));
    return r * detCos2Pi(u2);
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.nextNormal();
    return out;
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.nextFloat();
    return out;
  }

  getState(): GeneratorState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  setState(state: GeneratorState): this {
    const [a, b, c, d] = state.s;
    if ([a, b, c, d].some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError('Generator.setState: state must be four unsigned 32-bit integers');
    }
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    return this;
  }
}

/** The process-wide default generator, as torch.manual_seed sets it. */
export const defaultGenerator = new Generator(0);

export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}
