/**
 * Choosing a convolution's algorithm by timing (src/ops/conv.ts, chooseAlgorithm): a backend
 * whose convolutionPolicy says 'time' gets each pass of each layer timed once, direct against
 * im2col + GEMM, and the faster kept — with the same numbers either way. The backend here is
 * the js reference with a direct convolution made of the reference kernels and a busy wait,
 * so which way is slower is known.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONVOLUTION_CHOICES_FILE_VERSION, convolutionChoicesFile, machineFingerprint, parseConvolutionChoicesFile } from '../src/io/convolution-choices.js';
import type { Backend, ConvGeometry, DirectConvPass } from '../src/kernels/backend.js';
import { createJsBackend, getBackendName, registerBackend, setBackend } from '../src/kernels/index.js';
import { conv2d, convTranspose2d } from '../src/ops/conv.js';
import {
  clearConvolutionChoices, convolutionChoiceKey, convolutionChoices, fastestDirect, parseConvolutionChoice, restoreConvolutionChoices, setConvolutionChoiceStore,
  type ConvolutionChoiceStore,
} from '../src/ops/conv-algorithm.js';
import { tensor } from '../src/ops/create.js';
import { referenceAdjoint, referenceConvolve, referenceWeights } from './conv-reference.js';
import { assertClose, randomValues } from './helpers.js';

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: a slow kernel
  }
}

/** Which way is slow, and how many times each way ran. */
const slow = { direct: 0, gemm: 0 };
const calls = { direct: 0, gemm: 0 };

function timedBackend(): Backend {
  const js = createJsBackend();
  return {
    ...js,
    name: 'timed-test',
    gemm(p, a, b, c) {
      calls.gemm++;
      busyWait(slow.gemm);
      js.gemm(p, a, b, c);
    },
    directConvolution(pass: DirectConvPass, input: Float32Array, second: Float32Array, g: ConvGeometry, k: number, output: Float32Array): boolean {
      calls.direct++;
      busyWait(slow.direct);
      const result = pass === 'convolve' ? referenceConvolve(input, second, g, k) : pass === 'adjoint' ? referenceAdjoint(input, second, g, k) : referenceWeights(input, second, g, k);
      output.set(result);
      return true;
    },
    convolutionPolicy: () => 'time',
  };
}

/** conv2d and convTranspose2d of one layer, forward and both gradients. */
function layerResults(): Float32Array[] {
  const x = tensor(randomValues(2 * 8 * 8 * 8, 1), [2, 8, 8, 8]);
  const w = tensor(randomValues(16 * 8 * 4 * 4, 2, 0.2), [16, 8, 4, 4]);
  const y = tensor(randomValues(2 * 16 * 4 * 4, 3), [2, 16, 4, 4]);
  const results: Float32Array[] = [];
  for (const transposed of [false, true]) {
    const input = transposed ? y : x;
    input.requiresGrad = true;
    w.requiresGrad = true;
    const out = transposed ? convTranspose2d(input, w, null, { stride: 2, padding: 1 }) : conv2d(input, w, null, { stride: 2, padding: 1 });
    out.backward(tensor(randomValues(out.size, 4), out.shape));
    results.push(Float32Array.from(out.data), Float32Array.from(input.grad!.data), Float32Array.from(w.grad!.data));
    input.grad = null;
    w.grad = null;
  }
  return results;
}

describe('convolution algorithms chosen by timing', () => {
  let previous = '';
  let expected: Float32Array[] = [];
  let previousStore: ConvolutionChoiceStore | null = null;
  before(() => {
    previous = getBackendName();
    previousStore = setConvolutionChoiceStore(null);
    setBackend('js');
    expected = layerResults();
    registerBackend('timed-test', timedBackend);
    setBackend('timed-test');
  });
  after(() => {
    setBackend(previous);
    setConvolutionChoiceStore(previousStore);
    clearConvolutionChoices();
  });

  for (const [slower, faster] of [['direct', 'gemm'], ['gemm', 'direct']] as const) {
    it(`every pass takes the faster way (${faster}) once it is timed, and the numbers are the reference's`, () => {
      clearConvolutionChoices();
      slow.direct = 0;
      slow.gemm = 0;
      slow[slower] = 3;
      const results = layerResults();
      for (const [i, values] of results.entries()) assertClose(values, expected[i]!, { rtol: 1e-5, atol: 1e-5 }, `result ${i}`);
      const choices = convolutionChoices();
      // Forward with the weight gradient to follow, backward-data (adjoint) and, for the transposed
      // layer, convolve as its backward-data: each pass of the layer timed once.
      assert.deepEqual(new Set(choices.map((c) => c.algorithm)), new Set([faster]), JSON.stringify(choices.map((c) => [c.pass, c.algorithm, c.directMs, c.gemmMs])));
      for (const c of choices) assert.ok(c.directMs !== null && (faster === 'gemm' ? c.gemmMs < c.directMs : c.directMs < c.gemmMs), `${c.pass}: ${c.directMs} vs ${c.gemmMs}`);
      assert.ok(choices.some((c) => c.pass === 'convolve') && choices.some((c) => c.pass === 'adjoint'));
      // Once timed, a layer runs one way only: the slow way is not called again.
      const count = choices.length;
      calls.direct = 0;
      calls.gemm = 0;
      const again = layerResults();
      for (const [i, values] of again.entries()) assertClose(values, expected[i]!, { rtol: 1e-5, atol: 1e-5 }, `result ${i}, again`);
      assert.equal(convolutionChoices().length, count, 'no new timing');
      assert.equal(calls[slower], 0, `${slower} is not run again`);
      assert.ok(calls[faster] > 0);
    });
  }

  it('a near tie keeps the direct convolution (GEMM must be clearly faster)', () => {
    clearConvolutionChoices();
    slow.direct = 2;
    slow.gemm = 2;
    layerResults();
    const choices = convolutionChoices();
    assert.ok(choices.length > 0);
    for (const c of choices) if (c.gemmMs >= c.directMs! * 0.9) assert.equal(c.algorithm, 'direct');
  });
});

describe("the direct convolution's variants timed in turns", () => {
  let previous = '';
  before(() => {
    previous = getBackendName();
    registerBackend('variants-test', () => ({ ...createJsBackend(), name: 'variants-test', directConvolutionVariants: ['first', 'second', 'third', 'fourth'] }));
    setBackend('variants-test');
  });
  after(() => setBackend(previous));

  /** A clock that only the variants move: variant v takes cost[v] ms, times `slowdown` from call `slowFrom` on. */
  function machine(cost: number[], slowFrom: number, slowdown: number): { run: (v: number) => boolean; now: () => number; calls: number[] } {
    let clock = 0;
    const calls: number[] = [];
    return {
      run: (v) => {
        if (cost[v] === undefined) return false;
        clock += cost[v] * (calls.length >= slowFrom ? slowdown : 1);
        calls.push(v);
        return true;
      },
      now: () => clock,
      calls,
    };
  }

  it('the fastest variant wins, with its own time; variants that decline are not timed', () => {
    const m = machine([3, 2, 2.5], Infinity, 1);
    assert.deepEqual(fastestDirect(m.run, m.now), { directMs: 2, variant: 1 });
    assert.ok(!m.calls.includes(3));
    // One untimed call each, then the same number of timed turns for every variant.
    const counts = [0, 1, 2].map((v) => m.calls.filter((c) => c === v).length);
    assert.equal(new Set(counts).size, 1);
    assert.ok(counts[0]! >= 6);
  });

  it('a machine that slows down while the variants are timed does not decide the choice', () => {
    // The machine turns three times slower after the first few calls. Timed one variant after
    // another, the first would be timed fast only and win though it is the slowest.
    for (const slowFrom of [3, 5, 8, 12, 20]) {
      const m = machine([1, 0.8, 0.9], slowFrom, 3);
      assert.equal(fastestDirect(m.run, m.now).variant, 1, `slower from call ${slowFrom}`);
    }
    // And a machine that speeds up.
    for (const slowFrom of [3, 8, 12]) {
      const m = machine([0.8, 1, 0.9], slowFrom, 1 / 3);
      assert.equal(fastestDirect(m.run, m.now).variant, 0, `faster from call ${slowFrom}`);
    }
  });

  it('every variant declining leaves no direct time', () => {
    const m = machine([], Infinity, 1);
    assert.deepEqual(fastestDirect(m.run, m.now), { directMs: null, variant: 0 });
  });
});

describe('the store of timed choices', () => {
  let previous = '';
  let previousStore: ConvolutionChoiceStore | null = null;
  const root = mkdtempSync(join(tmpdir(), 'dcgan-conv-choices-'));
  before(() => {
    previous = getBackendName();
    registerBackend('timed-test', timedBackend);
    setBackend('timed-test');
    previousStore = setConvolutionChoiceStore(null);
  });
  after(() => {
    setBackend(previous);
    setConvolutionChoiceStore(previousStore);
    clearConvolutionChoices();
    rmSync(root, { recursive: true, force: true });
  });

  it('a process takes the choices another one timed (no timing of its own), and adds what it times; the file keeps each machine apart', () => {
    const path = join(root, 'convolution-choices.json');
    slow.direct = 3;
    slow.gemm = 0;
    setConvolutionChoiceStore(convolutionChoicesFile(path));
    clearConvolutionChoices();
    layerResults();
    const timed = convolutionChoices();
    assert.ok(timed.length >= 2 && timed.every((c) => c.algorithm === 'gemm'));
    const saved = parseConvolutionChoicesFile(readFileSync(path, 'utf8'));
    assert.deepEqual([...saved.keys()], [machineFingerprint()]);
    // The file holds every timing, also the weight pass timed inside the forward's (which this run did not go on to use).
    const savedList = saved.get(machineFingerprint())!;
    for (const c of timed) assert.deepEqual(savedList.find((s) => convolutionChoiceKey(s) === convolutionChoiceKey(c)), c);
    assert.ok(savedList.some((c) => c.pass === 'weights'));

    // "Another process": nothing timed yet in memory, and direct would now win by far; the file decides.
    clearConvolutionChoices();
    slow.direct = 0;
    slow.gemm = 3;
    calls.direct = 0;
    layerResults();
    assert.equal(calls.direct, 0, 'no timing, and the direct convolution is not used');
    // It used the stored choices (those of the passes it ran: GEMM's kept columns leave out the separate weight pass).
    const stored = new Set(savedList.map(convolutionChoiceKey));
    assert.ok(convolutionChoices().length >= 2 && convolutionChoices().every((c) => stored.has(convolutionChoiceKey(c)) && c.algorithm === 'gemm'));

    // A machine of another kind in the same file keeps its own list; a malformed file reads as empty.
    const other = { ...timed[0]!, algorithm: 'direct' as const };
    writeFileSync(path, JSON.stringify({ version: CONVOLUTION_CHOICES_FILE_VERSION, machines: { 'another CPU': [other], [machineFingerprint()]: savedList } }));
    assert.deepEqual(convolutionChoicesFile(path).load(), savedList);
    // So does one an older version wrote: its choices are timed again.
    writeFileSync(path, JSON.stringify({ version: CONVOLUTION_CHOICES_FILE_VERSION - 1, machines: { [machineFingerprint()]: savedList } }));
    assert.deepEqual(convolutionChoicesFile(path).load(), []);
    writeFileSync(path, `{"version": ${CONVOLUTION_CHOICES_FILE_VERSION}, "machines": [`);
    assert.deepEqual(convolutionChoicesFile(path).load(), []);
    convolutionChoicesFile(path).save(timed);
    assert.deepEqual(convolutionChoicesFile(path).load(), timed, 'a save replaces a malformed file');
    // The first timing of a layer stays: saving a different choice for it changes nothing.
    convolutionChoicesFile(path).save([{ ...timed[0]!, algorithm: 'direct' }]);
    assert.equal(convolutionChoicesFile(path).load()[0]!.algorithm, 'gemm');
  });

  it('a stored choice of a direct variant the backend does not have (another version wrote it) is timed again, not run', () => {
    const path = join(root, 'stale-choices.json');
    slow.direct = 0;
    slow.gemm = 3;
    setConvolutionChoiceStore(convolutionChoicesFile(path));
    clearConvolutionChoices();
    layerResults();
    const timed = convolutionChoices();
    assert.ok(timed.length >= 2 && timed.every((c) => c.algorithm === 'direct' && c.variant === 0));
    // The same layers as a version with more variants would have kept them.
    writeFileSync(path, JSON.stringify({ version: CONVOLUTION_CHOICES_FILE_VERSION, machines: { [machineFingerprint()]: timed.map((c) => ({ ...c, variant: 3 })) } }));
    clearConvolutionChoices();
    calls.gemm = 0;
    layerResults();
    assert.ok(calls.gemm > 0, 'timed again (GEMM among the candidates)');
    assert.ok(convolutionChoices().length >= 2 && convolutionChoices().every((c) => c.algorithm === 'direct' && c.variant === 0));
    // The same from a checkpoint: what this run's checkpoints carry on is the choice timed again.
    setConvolutionChoiceStore(null);
    clearConvolutionChoices();
    restoreConvolutionChoices(timed.map((c) => ({ ...c, variant: 3 })));
    layerResults();
    assert.ok(convolutionChoices().length >= 2 && convolutionChoices().every((c) => c.variant === 0), JSON.stringify(convolutionChoices().map((c) => c.variant)));
  });

  it('a store that cannot write warns once and training goes on', () => {
    const blocked = join(root, 'a-file');
    writeFileSync(blocked, 'not a folder');
    setConvolutionChoiceStore(convolutionChoicesFile(join(blocked, 'convolution-choices.json')));
    clearConvolutionChoices();
    slow.direct = 0;
    slow.gemm = 0;
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => warnings.push(message);
    try {
      const results = layerResults();
      assert.equal(results.length, 6);
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /could not keep the timed convolution choices in .*a-file.*; the next run times them again/);
  });
});

describe('a rectified choice in a file', () => {
  it("reads back with its own key; 'rectified' is true on an adjoint or weights pass, or absent", () => {
    const plain = {
      backend: 'native', threads: 2, pass: 'weights', withWeightGrad: false, k: 64, algorithm: 'direct', variant: 5, directMs: 0.38, gemmMs: 0.61,
      geometry: { n: 64, c: 1, h: 32, w: 32, kh: 4, kw: 4, strideH: 2, strideW: 2, padH: 1, padW: 1, outH: 16, outW: 16 },
    };
    const rectified = parseConvolutionChoice({ ...plain, rectified: true });
    assert.deepEqual(rectified, { ...plain, rectified: true });
    assert.notEqual(convolutionChoiceKey(rectified!), convolutionChoiceKey(parseConvolutionChoice(plain)!));
    assert.equal(parseConvolutionChoice(plain)!.rectified, undefined);
    for (const bad of [{ ...plain, rectified: false }, { ...plain, rectified: 'yes' }, { ...plain, rectified: 1 }, { ...plain, pass: 'convolve', rectified: true }]) {
      assert.equal(parseConvolutionChoice(bad), null, JSON.stringify(bad.rectified));
    }
  });
});
