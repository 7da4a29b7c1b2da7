/**
 * The wasm backend's Winograd F(2×2, 2×2) over the phases (its direct convolution): the three
 * passes against the js reference on DCGAN's geometries and random ones it takes, on 1 and 2
 * threads; geometries it does not take are declined without a write; a batch in chunks; and
 * conv2d / convTranspose2d with their gradients through it, as the op layer runs it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setBackend, type ConvGeometry } from '../src/kernels/index.js';
import type { WasmBackend } from '../src/kernels/wasm/index.js';
import { winogradApplies } from '../src/kernels/winograd.js';
import { clearConvolutionChoices, convolutionChoices, restoreConvolutionChoices, type ConvolutionChoice } from '../src/ops/conv-algorithm.js';
import { geometry, referenceAdjoint, referenceConvolve, referenceWeights, stridedConvsWithGradients } from './conv-reference.js';
import { assertClose, randomValues, testRandom } from './helpers.js';

const wasm = setBackend('wasm') as WasmBackend;
after(() => wasm.setThreads(1));

/** The three passes' inputs and the reference's outputs. */
function passes(g: ConvGeometry, k: number, seed: number) {
  const image = randomValues(g.n * g.c * g.h * g.w, seed);
  const columns = randomValues(g.n * k * g.outH * g.outW, seed + 1);
  const w = randomValues(k * g.c * g.kh * g.kw, seed + 2);
  return [
    ['convolve', image, w, () => referenceConvolve(image, w, g, k), g.c * 16],
    ['adjoint', columns, w, () => referenceAdjoint(columns, w, g, k), k * 16],
    ['weights', image, columns, () => referenceWeights(image, columns, g, k), g.n * g.outH * g.outW],
  ] as const;
}

describe('wasm Winograd against the js reference', () => {
  it('the three passes on DCGAN geometries and random ones, 1 and 2 threads; other geometries declined without a write', () => {
    const rand = testRandom(51);
    const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    const cases: [ConvGeometry, number][] = [
      [geometry(4, 3, 32, 32, 4, 4, 2, 1), 16], [geometry(4, 64, 16, 16, 4, 4, 2, 1), 128], [geometry(4, 128, 8, 8, 4, 4, 2, 1), 256],
    ];
    for (let i = 0; i < 5; i++) cases.push([geometry(pick(1, 3), pick(1, 9), 4 * pick(1, 4), 4 * pick(1, 4), 4, 4, 2, 1), pick(1, 9)]);
    // Not taken: another stride, padding, kernel, an odd column side, a 1×1 column side.
    const declined: [ConvGeometry, number][] = [
      [geometry(2, 4, 8, 8, 4, 4, 1, 1), 3], [geometry(2, 4, 8, 8, 4, 4, 2, 0), 3], [geometry(2, 4, 8, 8, 3, 3, 2, 1), 3],
      [geometry(2, 4, 6, 6, 4, 4, 2, 1), 3], [geometry(2, 4, 4, 4, 4, 4, 1, 0), 3],
    ];
    for (const threads of [1, 2]) {
      wasm.setThreads(threads);
      for (const [i, [g, k]] of cases.entries()) {
        assert.ok(winogradApplies(g));
        for (const [pass, input, second, expected, depth] of passes(g, k, 60 + i)) {
          const out = randomValues(expected().length, 5);
          assert.equal(wasm.directConvolution!(pass, input, second, g, k, out), true, `${pass} ${JSON.stringify(g)} ran`);
          // Twice the direct kernels' bound (native-direct-conv.test.ts): the transforms add and subtract around the products.
          assertClose(out, expected(), { rtol: 1e-5, atol: 8e-6 * Math.sqrt(depth) }, `${threads} thread(s): ${pass} ${JSON.stringify(g)} k ${k}`);
        }
      }
      for (const [g, k] of declined) {
        assert.ok(!winogradApplies(g));
        for (const [pass, input, second, expected] of passes(g, k, 90)) {
          const garbage = randomValues(expected().length, 6);
          const out = garbage.slice();
          assert.equal(wasm.directConvolution!(pass, input, second, g, k, out), false);
          assert.deepEqual(out, garbage, `a declined ${pass} writes nothing`);
        }
      }
    }
  });

  it('a batch in chunks: the weight gradient summed across them, the last one shorter', () => {
    wasm.setThreads(2);
    // 13 images of 32 × 64 × 64, k 32: about 1.5 MB of transformed tiles per image, so chunks of 10 and 3.
    const g = geometry(13, 32, 64, 64, 4, 4, 2, 1);
    for (const [pass, input, second, expected, depth] of passes(g, 32, 70)) {
      const out = new Float32Array(expected().length);
      assert.ok(wasm.directConvolution!(pass, input, second, g, 32, out));
      assertClose(out, expected(), { rtol: 1e-5, atol: 1e-5 * Math.sqrt(depth) }, `chunked ${pass}`);
    }
  });

  it('the policy times large kernel-4 stride-2 layers and leaves the rest to im2col + GEMM; one variant', () => {
    assert.equal(wasm.convolutionPolicy!('convolve', geometry(64, 64, 32, 32, 4, 4, 2, 1), 128), 'time');
    assert.equal(wasm.convolutionPolicy!('adjoint', geometry(2, 8, 8, 8, 4, 4, 2, 1), 16), 'gemm', 'too small to time');
    assert.equal(wasm.convolutionPolicy!('convolve', geometry(64, 512, 4, 4, 4, 4, 1, 0), 1), 'gemm', 'D’s last layer');
    assert.deepEqual(wasm.directConvolutionVariants, ['winograd']);
    const g = geometry(1, 1, 4, 4, 4, 4, 2, 1);
    assert.throws(() => wasm.directConvolution!('convolve', new Float32Array(16), new Float32Array(16), g, 1, new Float32Array(4), 1), /wasm directConvolution: variant must be 0 \(winograd\), got 1/);
  });

  it('conv2d and convTranspose2d, forward and both gradients, the same through Winograd as through im2col + GEMM', () => {
    wasm.setThreads(2);
    // Large enough (134 MFLOP a pass) that the policy consults the choices.
    const x = randomValues(8 * 64 * 16 * 16, 7);
    const w = randomValues(128 * 64 * 4 * 4, 8, 0.1);
    const dy = randomValues(8 * 128 * 8 * 8, 9);
    const g = geometry(8, 64, 16, 16, 4, 4, 2, 1);
    const run = (algorithm: 'direct' | 'gemm'): Float32Array[] => {
      clearConvolutionChoices();
      // Every pass of this layer, with and without a weight gradient, as if timed so.
      const choices: ConvolutionChoice[] = [];
      for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
        for (const withWeightGrad of [false, true]) {
          choices.push({ backend: 'wasm', threads: 2, pass, geometry: g, k: 128, withWeightGrad, algorithm, variant: 0, directMs: 1, gemmMs: 1 });
        }
      }
      restoreConvolutionChoices(choices);
      return stridedConvsWithGradients(x, w, dy, 8, 64, 16, 128);
    };
    const original = wasm.directConvolution!;
    const ran: string[] = [];
    wasm.directConvolution = (pass, ...rest) => {
      ran.push(pass);
      return original(pass, ...rest);
    };
    try {
      const gemm = run('gemm');
      assert.deepEqual(ran, [], 'im2col + GEMM only');
      const direct = run('direct');
      assert.ok(convolutionChoices().every((c) => c.algorithm === 'direct'));
      // Each op's forward and both gradients: six passes, all through Winograd.
      assert.deepEqual([...ran].sort(), ['adjoint', 'adjoint', 'convolve', 'convolve', 'weights', 'weights']);
      for (const [i, name] of ['conv2d', 'conv2d dx', 'conv2d dw', 'convTranspose2d', 'convTranspose2d dx', 'convTranspose2d dw'].entries()) {
        assertClose(direct[i]!, gemm[i]!, { rtol: 1e-4, atol: 1e-4 }, name);
      }
    } finally {
      wasm.directConvolution = original;
      clearConvolutionChoices();
    }
  });
});
