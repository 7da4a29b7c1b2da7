/**
 * The wasm backend's Winograd over the phases, F(2×2, 2×2) (variant 0) and F(4×4, 2×2) (variant
 * 1), its direct convolutions: the three passes against the js reference on DCGAN's geometries
 * and random ones they take, on 1 and 2 threads; geometries they do not take are declined without
 * a write; a batch in chunks; and conv2d / convTranspose2d with their gradients through them, as
 * the op layer runs them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setBackend, type ConvGeometry } from '../src/kernels/index.js';
import type { WasmBackend } from '../src/kernels/wasm/index.js';
import { WINOGRAD_CHUNK_BYTES, winogradApplies, winogradImagesPerChunk, winogradPoints, winogradTilesPerImage } from '../src/kernels/winograd.js';
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
  it('the three passes on DCGAN geometries and random ones, both forms, 1 and 2 threads; other geometries declined without a write', () => {
    const rand = testRandom(51);
    const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    // D's three middle layers (at 4 images), F(4×4, 2×2)'s tail of 1–3 tiles in the last vector
    // (3 and 5 images of one tile, 3 images of two), and random ones with odd channel counts.
    const cases: [ConvGeometry, number][] = [
      [geometry(4, 3, 32, 32, 4, 4, 2, 1), 16], [geometry(4, 64, 16, 16, 4, 4, 2, 1), 128], [geometry(4, 128, 8, 8, 4, 4, 2, 1), 256],
      [geometry(3, 2, 8, 8, 4, 4, 2, 1), 3], [geometry(5, 7, 8, 8, 4, 4, 2, 1), 5], [geometry(3, 3, 8, 16, 4, 4, 2, 1), 4],
    ];
    for (let i = 0; i < 5; i++) cases.push([geometry(pick(1, 3), pick(1, 9), 4 * pick(1, 4), 4 * pick(1, 4), 4, 4, 2, 1), pick(1, 9)]);
    for (let i = 0; i < 3; i++) cases.push([geometry(pick(1, 5), pick(1, 9), 8 * pick(1, 3), 8 * pick(1, 3), 4, 4, 2, 1), pick(1, 9)]);
    // Not taken: another stride, padding, kernel, an odd column side, a 1×1 column side; by
    // F(4×4, 2×2) only: a column side of 2 or 6 (not whole 4 × 4 tiles).
    const declined: [ConvGeometry, number][] = [
      [geometry(2, 4, 8, 8, 4, 4, 1, 1), 3], [geometry(2, 4, 8, 8, 4, 4, 2, 0), 3], [geometry(2, 4, 8, 8, 3, 3, 2, 1), 3],
      [geometry(2, 4, 6, 6, 4, 4, 2, 1), 3], [geometry(2, 4, 4, 4, 4, 4, 1, 0), 3],
    ];
    const declinedByF4: [ConvGeometry, number][] = [[geometry(2, 4, 4, 4, 4, 4, 2, 1), 3], [geometry(2, 4, 12, 8, 4, 4, 2, 1), 3]];
    let f4Cases = 0;
    for (const threads of [1, 2]) {
      wasm.setThreads(threads);
      for (const [i, [g, k]] of cases.entries()) {
        assert.ok(winogradApplies(g));
        for (const variant of [0, 1]) {
          if (variant === 1 && !winogradApplies(g, 4)) continue;
          for (const [pass, input, second, expected, depth] of passes(g, k, 60 + i)) {
            const out = randomValues(expected().length, 5);
            assert.equal(wasm.directConvolution!(pass, input, second, g, k, out, variant), true, `${pass} ${JSON.stringify(g)} ran`);
            // The direct kernels' bound (native-direct-conv.test.ts) twice for F(2×2, 2×2) and four
            // times for F(4×4, 2×2), as there: the transforms add and subtract around the products.
            const bound = variant === 0 ? 8e-6 : 16e-6;
            assertClose(out, expected(), { rtol: 1e-5, atol: bound * Math.sqrt(depth) }, `${threads} thread(s): variant ${variant} ${pass} ${JSON.stringify(g)} k ${k}`);
            if (variant === 1) f4Cases++;
          }
        }
      }
      for (const [g, k] of [...declined, ...declinedByF4]) {
        const f2Takes = winogradApplies(g);
        assert.equal(f2Takes, declinedByF4.some(([d]) => d === g));
        assert.ok(!winogradApplies(g, 4));
        for (const [pass, input, second, expected] of passes(g, k, 90)) {
          for (const variant of f2Takes ? [1] : [0, 1]) {
            const garbage = randomValues(expected().length, 6);
            const out = garbage.slice();
            assert.equal(wasm.directConvolution!(pass, input, second, g, k, out, variant), false);
            assert.deepEqual(out, garbage, `a declined ${pass} writes nothing (variant ${variant})`);
          }
        }
      }
    }
    // D's three middle layers, the three tails, at least one random one: three passes, two thread counts.
    assert.ok(f4Cases >= 42, `F(4×4, 2×2) ran ${f4Cases} passes`);
  });

  it('F(4×4, 2×2) within a small multiple of F(2×2, 2×2)’s error on D’s 16² → 8² layer', () => {
    wasm.setThreads(2);
    const g = geometry(8, 128, 16, 16, 4, 4, 2, 1);
    for (const [pass, input, second, expected] of passes(g, 256, 80)) {
      const reference = expected();
      const rms = (variant: number): number => {
        const out = new Float32Array(reference.length);
        assert.ok(wasm.directConvolution!(pass, input, second, g, 256, out, variant));
        let sum = 0;
        for (let i = 0; i < out.length; i++) sum += (out[i]! - reference[i]!) ** 2;
        return Math.sqrt(sum / out.length);
      };
      const [f2, f4] = [rms(0), rms(1)];
      // Native's F(4×4, 2×2) is 2–3× F(2×2, 2×2) (native-direct-conv.test.ts); G's fractions here are applied in float.
      assert.ok(f4 > 0 && f4 < 4 * f2, `${pass}: RMS error ${f4} against F(2×2, 2×2)'s ${f2}`);
    }
  });

  it('a batch in chunks, both forms: the weight gradient summed across them, the last one shorter', () => {
    wasm.setThreads(2);
    // F(2×2, 2×2): 13 images of 32 × 64 × 64, k 32, about 1.5 MB of transformed tiles per image:
    // at most 10 a chunk, so chunks of 7 and 6. F(4×4, 2×2): 11 images of 64 × 64 × 64, k 8, about 1.7 MB: 6 and 5.
    for (const [variant, g, k, side] of [[0, geometry(13, 32, 64, 64, 4, 4, 2, 1), 32, 2], [1, geometry(11, 64, 64, 64, 4, 4, 2, 1), 8, 4]] as const) {
      const perChunk = winogradImagesPerChunk(g, k, side);
      assert.ok(perChunk < g.n && g.n % perChunk !== 0, `variant ${variant}: chunks of ${perChunk} for ${g.n} images`);
      for (const [pass, input, second, expected, depth] of passes(g, k, 70)) {
        const out = new Float32Array(expected().length);
        assert.ok(wasm.directConvolution!(pass, input, second, g, k, out, variant));
        assertClose(out, expected(), { rtol: 1e-5, atol: (variant === 0 ? 1e-5 : 2e-5) * Math.sqrt(depth) }, `variant ${variant}, chunked ${pass}`);
      }
    }
  });

  it('chunks: as few as the budget allows, the last fewer than one image per chunk short of the others', () => {
    for (const side of [2, 4] as const) {
      for (const [g, k] of [[geometry(64, 64, 32, 32, 4, 4, 2, 1), 128], [geometry(64, 128, 16, 16, 4, 4, 2, 1), 256], [geometry(13, 32, 64, 64, 4, 4, 2, 1), 32], [geometry(1, 8, 8, 8, 4, 4, 2, 1), 16]] as const) {
        const perImage = winogradPoints(side) * winogradTilesPerImage(g, side) * (4 * g.c + k) * 4;
        const most = Math.max(1, Math.floor(WINOGRAD_CHUNK_BYTES / perImage));
        const perChunk = winogradImagesPerChunk(g, k, side);
        const chunks = Math.ceil(g.n / perChunk);
        const label = `side ${side}, ${g.n} images of ${g.c} × ${g.h} × ${g.w}, k ${k}: ${perChunk} a chunk`;
        assert.ok(perChunk <= most, `${label}, over the budget's ${most}`);
        assert.equal(chunks, Math.ceil(g.n / Math.min(most, g.n)), `${label}: more chunks than the budget needs`);
        assert.ok(g.n - (chunks - 1) * perChunk > perChunk - chunks, `${label}: the last chunk is too short`);
      }
    }
  });

  it('the policy times large kernel-4 stride-2 layers and leaves the rest to im2col + GEMM; two variants', () => {
    assert.equal(wasm.convolutionPolicy!('convolve', geometry(64, 64, 32, 32, 4, 4, 2, 1), 128), 'time');
    assert.equal(wasm.convolutionPolicy!('adjoint', geometry(2, 8, 8, 8, 4, 4, 2, 1), 16), 'gemm', 'too small to time');
    assert.equal(wasm.convolutionPolicy!('convolve', geometry(64, 512, 4, 4, 4, 4, 1, 0), 1), 'gemm', 'D’s last layer');
    assert.deepEqual(wasm.directConvolutionVariants, ['winograd', 'winograd4']);
    const g = geometry(1, 1, 4, 4, 4, 4, 2, 1);
    assert.throws(
      () => wasm.directConvolution!('convolve', new Float32Array(16), new Float32Array(16), g, 1, new Float32Array(4), 2),
      /wasm directConvolution: variant must be 0 \(winograd\) or 1 \(winograd4\), got 2/,
    );
  });

  it('conv2d and convTranspose2d, forward and both gradients, the same through either form of Winograd as through im2col + GEMM', () => {
    wasm.setThreads(2);
    // Large enough (134 MFLOP a pass) that the policy consults the choices.
    const x = randomValues(8 * 64 * 16 * 16, 7);
    const w = randomValues(128 * 64 * 4 * 4, 8, 0.1);
    const dy = randomValues(8 * 128 * 8 * 8, 9);
    const g = geometry(8, 64, 16, 16, 4, 4, 2, 1);
    const run = (algorithm: 'direct' | 'gemm', variant = 0): Float32Array[] => {
      clearConvolutionChoices();
      // Every pass of this layer, with and without a weight gradient, as if timed so.
      const choices: ConvolutionChoice[] = [];
      for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
        for (const withWeightGrad of [false, true]) {
          choices.push({ backend: 'wasm', threads: 2, pass, geometry: g, k: 128, withWeightGrad, algorithm, variant, directMs: 1, gemmMs: 1 });
        }
      }
      restoreConvolutionChoices(choices);
      return stridedConvsWithGradients(x, w, dy, 8, 64, 16, 128);
    };
    const original = wasm.directConvolution!;
    const ran: string[] = [];
    wasm.directConvolution = (pass, input, second, g, k, output, variant, rectifier) => {
      ran.push(`${pass} ${variant ?? 0}`);
      return original(pass, input, second, g, k, output, variant, rectifier);
    };
    try {
      const gemm = run('gemm');
      assert.deepEqual(ran, [], 'im2col + GEMM only');
      for (const variant of [0, 1]) {
        ran.length = 0;
        const direct = run('direct', variant);
        assert.ok(convolutionChoices().every((c) => c.algorithm === 'direct'));
        // Each op's forward and both gradients: six passes, all through this form of Winograd.
        assert.deepEqual([...ran].sort(), ['adjoint', 'adjoint', 'convolve', 'convolve', 'weights', 'weights'].map((pass) => `${pass} ${variant}`));
        for (const [i, name] of ['conv2d', 'conv2d dx', 'conv2d dw', 'convTranspose2d', 'convTranspose2d dx', 'convTranspose2d dw'].entries()) {
          assertClose(direct[i]!, gemm[i]!, { rtol: 1e-4, atol: 1e-4 }, `variant ${variant}: ${name}`);
        }
      }
    } finally {
      wasm.directConvolution = original;
      clearConvolutionChoices();
    }
  });
});
