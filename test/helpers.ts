/** Shared test utilities: backend parameterisation, closeness checks, fixtures, finite differences. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { availableBackends, getBackendName, setBackend, type Tensor } from '../src/index.js';

/** Every registered backend; op suites run once per backend. */
export function backendNames(): string[] {
  return availableBackends();
}

/**
 * Declares `body`'s suites once per backend. Tests run after they are declared, so the
 * backend is selected by before/after hooks of a wrapping suite, not while declaring.
 */
export function forEachBackend(body: (name: string) => void): void {
  const defaultName = getBackendName();
  for (const name of backendNames()) {
    describe(`[${name}]`, () => {
      before(() => {
        setBackend(name);
      });
      after(() => {
        setBackend(defaultName);
      });
      it(`selects the ${name} backend`, () => {
        assert.equal(getBackendName(), name);
      });
      body(name);
    });
  }
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** |a − e| ≤ atol + rtol·|e| elementwise, reporting the worst index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}, what = 'values'): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: index ${worst} is ${actual[worst]} but expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

export function assertShape(t: Tensor, shape: readonly number[], what = 'shape'): void {
  assert.deepEqual([...t.shape], [...shape], what);
}

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./golden/fixtures/${name}.json`, import.meta.url), 'utf8')) as T;
}

/** A small deterministic generator for test data (independent of the library's RNG under test). */
export function testRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Normal-ish values in float32 from testRandom (sum of uniforms; good enough for test inputs). */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const rand = testRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() - 1.5) * 2 * scale;
  return out;
}

/**
 * Central finite differences of L(inputs) = Σ weights·f(inputs), computed entirely in
 * float64 on a reference implementation, so the numeric gradient is accurate to ~1e-9
 * and a float32 analytic gradient can be held to a tight tolerance.
 */
export function numericGradients(
  f: (inputs: Float64Array[]) => Float64Array,
  inputs: Float64Array[],
  weights: ArrayLike<number>,
  h = 1e-6,
): Float64Array[] {
  const loss = (): number => {
    const y = f(inputs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * weights[i]!;
    return s;
  };
  return inputs.map((input) => {
    const grad = new Float64Array(input.length);
    for (let i = 0; i < input.length; i++) {
      const saved = input[i]!;
      input[i] = saved + h;
      const up = loss();
      input[i] = saved - h;
      const down = loss();
      input[i] = saved;
      grad[i] = (up - down) / (2 * h);
    }
    return grad;
  });
}
