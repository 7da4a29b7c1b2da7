/**
 * Normal samples drawn by the native backend (Backend.fillNormal): bitwise the numbers the js
 * Generator draws from the same state, which advances the same way; randn, the initialisers and
 * the trainer's noise take them and stay the same on every backend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { availableBackends, getBackend, setBackend } from '../src/index.js';
import { fillNormal, randn } from '../src/ops/create.js';
import { Generator } from '../src/tensor/random.js';

const hasNative = availableBackends().includes('native');

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: element ${i} is ${actual[i]} where the generator draws ${expected[i]}`);
  }
}

function withBackend<T>(name: string, f: () => T): T {
  const previous = getBackend().name;
  setBackend(name);
  try {
    return f();
  } finally {
    setBackend(previous);
  }
}

describe('native normal samples', { skip: hasNative ? false : 'native addon not built' }, () => {
  it('are bitwise the generator’s, from many states, and leave the state where the generator would', () => {
    const backend = withBackend('native', () => getBackend());
    assert.ok(backend.fillNormal, 'this addon draws normal samples');
    for (const [seed, length, mean, std] of [[0, 1, 0, 1], [1, 255, 0, 1], [2, 256, 0, 1], [3, 1000, 1, 0.02], [4, 100_003, 0, 0.02], [5, 0, 0, 1], [6, 4096, -3, 7.5]] as const) {
      const reference = new Generator(seed);
      const expected = reference.fillNormal(new Float32Array(length), mean, std);
      const state = Uint32Array.from(new Generator(seed).getState().s);
      const actual = new Float32Array(length);
      backend.fillNormal(state, actual, mean, std);
      sameBits(actual, expected, `seed ${seed}, ${length} values, N(${mean}, ${std})`);
      assert.deepEqual([...state], reference.getState().s, `seed ${seed}: the state after ${length} values`);
    }
  });

  it('include every branch of the series: values from the whole quarter-turn and log range', () => {
    // A million draws cover all four quadrants of the cosine and mantissas on both sides of √2 many times over.
    const expected = new Generator(42).fillNormal(new Float32Array(1 << 20));
    const actual = withBackend('native', () => fillNormal(new Float32Array(1 << 20), new Generator(42)));
    sameBits(actual, expected, 'a million draws');
    let negative = 0;
    for (const v of actual) if (v < 0) negative++;
    assert.ok(negative > 0.49 * actual.length && negative < 0.51 * actual.length, `${negative} negative values of ${actual.length}`);
  });

  it('keep one stream when the generator and the backend take turns', () => {
    const together = new Generator(9).fillNormal(new Float32Array(3 * 1000 + 17));
    const generator = new Generator(9);
    const parts = withBackend('native', () => [
      fillNormal(new Float32Array(1000), generator),
      generator.fillNormal(new Float32Array(17)),
      fillNormal(new Float32Array(1000), generator),
      fillNormal(new Float32Array(1000), generator),
    ]);
    const joined = new Float32Array(together.length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    sameBits(joined, together, 'alternating draws');
  });

  it('make randn the same on the native and the js backend', () => {
    const onJs = withBackend('js', () => randn([64, 100, 1, 1], { generator: new Generator(3) }).toFloat32Array());
    const onNative = withBackend('native', () => randn([64, 100, 1, 1], { generator: new Generator(3) }).toFloat32Array());
    sameBits(onNative, onJs, 'randn([64, 100, 1, 1])');
  });

  it('reject a state that is not four 32-bit words', () => {
    const backend = withBackend('native', () => getBackend());
    assert.throws(() => backend.fillNormal!(new Uint32Array(3), new Float32Array(4), 0, 1), /Uint32Array of 4 words/);
    assert.throws(() => backend.fillNormal!(new Int32Array(4) as unknown as Uint32Array, new Float32Array(4), 0, 1), /Uint32Array of 4 words/);
  });
});
