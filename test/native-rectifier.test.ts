/**
 * The native image convolution with a rectifier in the same pass (Backend.directConvolution's
 * `rectifier`; D's first block is a convolution and a LeakyReLU): bitwise the numbers of the
 * convolution and the rectifier's own pass, for ReLU and LeakyReLU, in the three passes; the other
 * variants decline it and write nothing; conv2d takes it where one gradient alone is wanted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { availableBackends } from '../src/index.js';
import { setBackend, type ConvGeometry } from '../src/kernels/index.js';
import type { ConvRectifier, DirectConvPass } from '../src/kernels/backend.js';
import type { NativeBackend } from '../src/kernels/native/index.js';
import { leakyRelu } from '../src/ops/activation.js';
import {
  clearConvolutionChoices, convolutionChoiceKey, convolutionChoices, parseConvolutionChoice, restoreConvolutionChoices, setConvolutionChoiceStore,
  type ConvolutionChoice,
} from '../src/ops/conv-algorithm.js';
import { conv2d } from '../src/ops/conv.js';
import { tensor } from '../src/ops/create.js';
import { geometry } from './conv-reference.js';
import { randomValues, testRandom } from './helpers.js';

const native = availableBackends().includes('native') ? (setBackend('native') as NativeBackend) : null;
const IMAGE = 5;

/** Values with exact zeros of both signs among them: where the rectifier's branches meet. */
function withZeros(count: number, seed: number): Float32Array {
  const values = randomValues(count, seed);
  for (let i = 0; i < count; i += 7) values[i] = i % 2 === 0 ? 0 : -0;
  return values;
}

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: element ${i} is ${actual[i]} where its own passes give ${expected[i]}`);
  }
}

describe('native: a rectifier inside the image convolution', { skip: native === null ? 'the native backend is not built here' : false }, () => {
  const backend = native!;
  const direct = (pass: DirectConvPass, input: Float32Array, second: Float32Array, g: ConvGeometry, k: number, output: Float32Array, variant: number, rectifier?: ConvRectifier): boolean =>
    backend.directConvolution!(pass, input, second, g, k, output, variant, rectifier);

  it('the three passes give bitwise what the convolution and the rectifier give in passes of their own', () => {
    const rand = testRandom(5);
    const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    let ran = 0;
    for (let i = 0; i < 6; i++) {
      // 1 to 4 image channels, outputs a whole number of 16-wide vectors, 8k output channels.
      const side = 32 * pick(1, 2), c = pick(1, 4), k = 8 * pick(1, 4), n = pick(1, 5);
      const g = geometry(n, c, side, side, 4, 4, 2, 1);
      const imageSize = n * c * side * side, columnSize = n * k * g.outH * g.outW;
      const x = randomValues(imageSize, 10 + i), w = randomValues(k * c * 16, 20 + i, 0.3), dy = randomValues(columnSize, 30 + i);
      for (const slope of [0, 0.2]) {
        const op = slope === 0 ? 'relu' : 'leakyRelu';
        const what = `${n} × ${c} × ${side}² → ${k}, ${op}`;
        // Forward: the convolution, then the rectifier over its output.
        const plain = new Float32Array(columnSize);
        assert.ok(direct('convolve', x, w, g, k, plain, IMAGE), `${what}: convolve ran`);
        const expectedY = new Float32Array(columnSize);
        backend.unary(op, plain, expectedY, slope);
        const y = new Float32Array(columnSize);
        assert.ok(direct('convolve', x, w, g, k, y, IMAGE, { slope }), `${what}: rectified convolve ran`);
        sameBits(y, expectedY, `${what}: convolve`);
        // Backward: the gradient at the rectifier's output through it, then the adjoint or the weights.
        const activated = withZeros(columnSize, 40 + i);
        const dz = new Float32Array(columnSize);
        backend.unaryBackward(op, activated, activated, dy, dz, slope);
        for (const [pass, second, size] of [['adjoint', w, imageSize], ['weights', dy, k * c * 16]] as const) {
          const expected = new Float32Array(size);
          assert.ok(pass === 'adjoint' ? direct(pass, dz, w, g, k, expected, IMAGE) : direct(pass, x, dz, g, k, expected, IMAGE), `${what}: ${pass} ran`);
          const out = new Float32Array(size);
          const ok = pass === 'adjoint' ? direct(pass, dy, second, g, k, out, IMAGE, { slope, activated }) : direct(pass, x, dy, g, k, out, IMAGE, { slope, activated });
          assert.ok(ok, `${what}: rectified ${pass} ran`);
          sameBits(out, expected, `${what}: ${pass}`);
          ran++;
        }
      }
    }
    assert.equal(ran, 24);
  });

  it('other variants and geometries decline it and write nothing; its output and slope are checked', () => {
    const g = geometry(2, 8, 16, 16, 4, 4, 2, 1);
    const x = randomValues(2 * 8 * 256, 1), w = randomValues(16 * 8 * 16, 2, 0.1), dy = randomValues(2 * 16 * 64, 3);
    for (let variant = 0; variant < backend.directConvolutionVariants!.length; variant++) {
      for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
        const size = { convolve: dy.length, adjoint: x.length, weights: w.length }[pass];
        const out = new Float32Array(size).fill(7);
        const [input, second] = pass === 'convolve' ? [x, w] : pass === 'adjoint' ? [dy, w] : [x, dy];
        // 8 image channels: the image convolution (1 to 4) does not apply, and nothing else fuses.
        assert.equal(direct(pass, input, second, g, 16, out, variant, { slope: 0.2, activated: dy }), false, `${pass}, variant ${variant}`);
        assert.ok(out.every((v) => v === 7), `${pass}, variant ${variant}: nothing written`);
      }
    }
    const small = geometry(1, 1, 32, 32, 4, 4, 2, 1);
    const image = randomValues(1024, 4), weights = randomValues(8 * 16, 5), columns = randomValues(8 * 256, 6);
    assert.throws(() => direct('adjoint', columns, weights, small, 8, new Float32Array(1024), IMAGE, { slope: 0.2 }), /the rectifier's output has no elements but the call reaches 2048/);
    assert.throws(() => direct('weights', image, columns, small, 8, new Float32Array(128), IMAGE, { slope: 0.2, activated: new Float32Array(2047) }), /has 2047 elements/);
    assert.throws(() => direct('convolve', image, weights, small, 8, new Float32Array(2048), IMAGE, { slope: -0.1 }), /a rectifier's slope must be ≥ 0, got -0.1/);
  });

  /** conv2d + LeakyReLU on D's first layer at 32 × 32 × 1, its gradients wanted as `wanted` says, fused or as separate ops. */
  function firstLayer(wanted: 'weights' | 'input' | 'both', fusedActivation: boolean): Float32Array[] {
    const input = tensor(randomValues(64 * 32 * 32, 51), [64, 1, 32, 32]), weight = tensor(randomValues(64 * 16, 52, 0.3), [64, 1, 4, 4]);
    input.requiresGrad = wanted !== 'weights';
    weight.requiresGrad = wanted !== 'input';
    const options = { stride: 2, padding: 1 } as const;
    const out = fusedActivation ? conv2d(input, weight, null, { ...options, activation: { op: 'leakyRelu', negativeSlope: 0.2 } }) : leakyRelu(conv2d(input, weight, null, options), 0.2);
    out.backward(tensor(randomValues(64 * 64 * 16 * 16, 53), out.shape));
    return [out.data, input.grad?.data, weight.grad?.data].filter((v): v is Float32Array => v !== undefined).map((v) => Float32Array.from(v));
  }
  const firstGeometry = geometry(64, 1, 32, 32, 4, 4, 2, 1);
  const imageChoice = (pass: DirectConvPass, withWeightGrad: boolean, rectified: boolean): ConvolutionChoice => ({
    backend: 'native', threads: backend.threads, pass, geometry: { ...firstGeometry }, k: 64, withWeightGrad, algorithm: 'direct', variant: IMAGE, directMs: 1, gemmMs: 2,
    ...(rectified ? { rectified: true as const } : {}),
  });

  /** Runs `body` under 'auto' with no choice store, the choices cleared and `choices` restored, counting the passes that fused. */
  function withChoices(choices: ConvolutionChoice[], body: (fused: string[]) => void): void {
    const previousStore = setConvolutionChoiceStore(null);
    const previousMode = backend.setDirectConv('auto');
    const original = backend.directConvolution!;
    const fused: string[] = [];
    try {
      clearConvolutionChoices();
      restoreConvolutionChoices(choices);
      backend.directConvolution = (pass, input, second, g, k, output, variant, rectifier) => {
        const done = original(pass, input, second, g, k, output, variant, rectifier);
        if (rectifier !== undefined && done) fused.push(pass);
        return done;
      };
      body(fused);
    } finally {
      backend.directConvolution = original;
      backend.setDirectConv(previousMode);
      clearConvolutionChoices();
      setConvolutionChoiceStore(previousStore);
    }
  }

  it('conv2d + LeakyReLU runs it where one gradient alone is wanted, with the numbers of the separate passes', () => {
    // Every pass, plain and rectified, given the image variant.
    const choices = [
      imageChoice('convolve', true, false), imageChoice('convolve', false, false), imageChoice('adjoint', false, false), imageChoice('weights', false, false),
      imageChoice('adjoint', false, true), imageChoice('weights', false, true),
    ];
    withChoices(choices, (fused) => {
      for (const wanted of ['weights', 'input', 'both'] as const) {
        fused.length = 0;
        const separate = firstLayer(wanted, false);
        assert.deepEqual(fused, [], `${wanted}: nothing fused without the activation option`);
        const together = firstLayer(wanted, true);
        // Both gradients wanted: the rectifier's gradient is made once for both passes.
        assert.deepEqual(fused, wanted === 'both' ? ['convolve'] : ['convolve', wanted === 'input' ? 'adjoint' : 'weights'], `${wanted}: the passes that fused`);
        assert.equal(together.length, separate.length);
        for (const [i, values] of together.entries()) sameBits(values, separate[i]!, `${wanted}: ${['output', 'first gradient', 'second gradient'][i]}`);
      }
      assert.equal(convolutionChoices().length, choices.length, 'no pass was timed');
    });
  });

  it('a rectified pass is timed as a choice of its own (the fused variants against the rectifier\'s pass and the plain choice), kept and read back', () => {
    // The plain passes given the image variant (so either way of the rectified ones gives the same numbers), the rectified ones timed.
    const plain = [imageChoice('convolve', true, false), imageChoice('convolve', false, false), imageChoice('adjoint', false, false), imageChoice('weights', false, false)];
    withChoices(plain, () => {
      for (const wanted of ['weights', 'input'] as const) {
        const separate = firstLayer(wanted, false);
        const together = firstLayer(wanted, true);
        for (const [i, values] of together.entries()) sameBits(values, separate[i]!, `${wanted}, timed: ${['output', 'gradient'][i]}`);
      }
      const rectified = convolutionChoices().filter((c) => c.rectified === true);
      assert.deepEqual(rectified.map((c) => c.pass).sort(), ['adjoint', 'weights']);
      for (const c of rectified) {
        // Only the image variant fuses; 'gemm' is the rectifier's pass and the plain pass's own choice.
        assert.ok(c.algorithm === 'gemm' || c.variant === IMAGE, `${c.pass}: ${c.algorithm} ${c.variant}`);
        assert.ok(c.directMs !== null && c.gemmMs > 0, `${c.pass}: both ways timed`);
        const read = parseConvolutionChoice(JSON.parse(JSON.stringify(c)));
        assert.deepEqual(read, c, `${c.pass}: read back`);
        // A plain pass's key is another one (and the same as before rectified passes existed).
        assert.notEqual(convolutionChoiceKey(read!), convolutionChoiceKey({ ...c, rectified: undefined }));
        assert.doesNotMatch(convolutionChoiceKey({ ...c, rectified: undefined }), /rectifier/);
      }
      assert.equal(parseConvolutionChoice({ ...rectified[0], rectified: false }), null, 'rectified is true or absent');
      assert.equal(parseConvolutionChoice({ ...rectified[0], pass: 'convolve' }), null, 'no rectified convolve');
    });
  });
});
