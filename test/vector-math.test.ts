/**
 * The vectorised tanh and sigmoid of the native backend (native/src/vmath.h) and of the wasm
 * backend (the same arithmetic in src/kernels/wasm/assembly/elementwise.ts) against the
 * double-precision reference, in ulps: a fine sweep of [-20, 20] (sigmoid to -110, where it
 * reaches 0), every binade from the subnormals up, and the special values. The bounds are the
 * ones vmath.h states (its worst cases come from a sweep over every float input). Both backends
 * give the same bits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { availableBackends, setBackend } from '../src/index.js';
import type { Backend } from '../src/kernels/index.js';
import { testRandom } from './helpers.js';

const TANH_MAX_ULP = 1.5;
const SIGMOID_MAX_ULP = 2.5;

function sigmoidReference(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** The spacing of floats in the reference's binade (2^-149 among subnormals and at 0). */
function ulp(reference: number): number {
  const a = Math.abs(reference);
  if (a === 0) return 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (Math.max(e, -126) - 23);
}

/** Inputs: a fine sweep, every binade both signs (random mantissas), the saturation edges, special values. */
function inputs(from: number, to: number): Float32Array {
  const values: number[] = [];
  for (let v = from; v <= to; v += 2 ** -12) values.push(v);
  const rand = testRandom(3);
  for (let e = -149; e <= 7; e++) {
    for (let i = 0; i < 64; i++) {
      const v = 2 ** e * (1 + rand());
      values.push(v, -v);
    }
  }
  for (const v of [0, -0, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -149), 2 ** -126, 1e-30, 0.625, 9.01, 9.02, 9.5, 10, 16.6, 17.3, 17.4, 87.3, 88.8, 89, 103.9, 104, 104.5, 105, 1e10, 3.4e38]) {
    values.push(v, -v);
  }
  return Float32Array.from(values);
}

/** op over a copy of x in the backend's own memory. */
function runUnary(backend: Backend, op: 'tanh' | 'sigmoid', x: Float32Array): Float32Array {
  const xs = backend.allocator.alloc(x.length);
  const out = backend.allocator.alloc(x.length);
  xs.set(x);
  backend.unary(op, xs, out, 0);
  const result = out.slice();
  backend.allocator.free(xs);
  backend.allocator.free(out);
  return result;
}

for (const name of ['native', 'wasm'] as const) {
  describe(`${name} tanh and sigmoid (vectorised) against the double-precision reference`, { skip: availableBackends().includes(name) ? false : `the ${name} backend is not available here` }, () => {
    let backend: Backend;
    const run = (op: 'tanh' | 'sigmoid', x: Float32Array): Float32Array => runUnary(backend, op, x);

    const cases = [
      { op: 'tanh', reference: Math.tanh, bound: TANH_MAX_ULP, from: -20, to: 20, low: -1 },
      { op: 'sigmoid', reference: sigmoidReference, bound: SIGMOID_MAX_ULP, from: -110, to: 20, low: 0 },
    ] as const;
    for (const { op, reference, bound, from, to, low } of cases) {
      it(`${op}: ≤ ${bound} ulp, exact saturation, within [${low}, 1], NaN and signed zero`, () => {
        backend = setBackend(name);
        const x = inputs(from, to);
        const y = run(op, x);
        let worst = 0;
        let worstAt = 0;
        for (let i = 0; i < x.length; i++) {
          const v = x[i]!;
          const got = y[i]!;
          if (Number.isNaN(v)) {
            assert.ok(Number.isNaN(got), `${op}(NaN) is ${got}`);
            continue;
          }
          const r = reference(v);
          const rounded = Math.fround(r);
          assert.ok(got >= low && got <= 1, `${op}(${v}) = ${got} is outside [${low}, 1]`);
          // Saturated (or zero) where the reference rounds to it: exactly, sign of zero included.
          if (rounded === 1 || rounded === -1 || rounded === 0) assert.ok(Object.is(got, op === 'tanh' && v === 0 ? v : rounded), `${op}(${v}) = ${got}, the reference ${rounded}`);
          const err = Math.abs(got - r) / ulp(r);
          if (err > worst) {
            worst = err;
            worstAt = v;
          }
        }
        assert.ok(worst <= bound, `${op}: ${worst.toFixed(3)} ulp at x = ${worstAt} (bound ${bound})`);
      });

      it(`${op}: the same bits wherever an element falls (vector body, tail, the threads' split)`, () => {
        backend = setBackend(name);
        const x = Float32Array.from(inputs(-12, 12).subarray(0, 70001));
        const whole = run(op, x);
        for (const [start, end] of [[0, 1], [1, 18], [3, 70001], [5, 40000], [69990, 70001]] as const) {
          assert.deepEqual(run(op, x.subarray(start, end)), whole.subarray(start, end), `${op} on [${start}, ${end})`);
        }
      });
    }
  });
}

describe('tanh and sigmoid: native and wasm give the same bits', { skip: ['native', 'wasm'].every((b) => availableBackends().includes(b)) ? false : 'needs both backends' }, () => {
  for (const op of ['tanh', 'sigmoid'] as const) {
    it(op, () => {
      const x = inputs(-110, 20);
      const results = (['native', 'wasm'] as const).map((name) => runUnary(setBackend(name), op, x));
      const [native, wasm] = results as [Float32Array, Float32Array];
      for (let i = 0; i < x.length; i++) {
        if (!Object.is(native[i], wasm[i])) assert.fail(`${op}(${x[i]}): native ${native[i]}, wasm ${wasm[i]}`);
      }
    });
  }
});
