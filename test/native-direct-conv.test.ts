/**
 * The native backend's direct convolutions (oneDNN, where the addon was built with it) against
 * the js reference's im2col + GEMM: the three passes on DCGAN's geometries and random small ones, a
 * declined geometry writes nothing, sizes are checked before C runs, and conv2d /
 * convTranspose2d with their gradients give the same numbers whichever path runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availableBackends } from '../src/index.js';
import { setBackend, type ConvGeometry } from '../src/kernels/index.js';
import { createNativeBackend, type NativeBackend } from '../src/kernels/native/index.js';
import { loadAddon, type NativeAddon } from '../src/kernels/native/addon.js';
import { winogradApplies } from '../src/kernels/winograd.js';
import { conv2d, convTranspose2d } from '../src/ops/conv.js';
import { tensor } from '../src/ops/create.js';
import { geometry, referenceAdjoint, referenceConvolve, referenceWeights, stridedConvsWithGradients } from './conv-reference.js';
import { assertClose, randomValues, testRandom } from './helpers.js';

function nativeWithDirect(): NativeBackend | null {
  if (!availableBackends().includes('native')) return null;
  const backend = setBackend('native') as NativeBackend;
  return backend.library.directConv === undefined ? null : backend;
}

const backend = nativeWithDirect();
const skip = backend === null ? 'the native backend was built without oneDNN here' : false;

describe('native direct convolutions (oneDNN) against the js reference', { skip }, () => {
  const native = backend!;

  it('the three passes on DCGAN geometries and random small ones; a declined geometry writes nothing', () => {
    const previous = native.setDirectConv('on');
    try {
      const rand = testRandom(21);
      const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      // D's middle layers (k4 s2 p1), G's, D's last (the kernel covers the image), then random ones.
      const cases: [ConvGeometry, number][] = [
        [geometry(8, 64, 32, 32, 4, 4, 2, 1), 128], [geometry(8, 128, 8, 8, 4, 4, 2, 1), 256],
        [geometry(4, 256, 4, 4, 4, 4, 1, 0), 512], [geometry(3, 40, 4, 4, 4, 4, 1, 0), 1],
      ];
      for (let i = 0; i < 24; i++) {
        const kh = pick(1, 5), kw = pick(1, 5), stride = pick(1, 3), pad = pick(0, 2);
        const h = pick(Math.max(1, kh - 2 * pad), 12), w = pick(Math.max(1, kw - 2 * pad), 12);
        cases.push([geometry(pick(1, 3), pick(1, 9), h, w, kh, kw, stride, pad), pick(1, 9)]);
      }
      let declined = 0;
      let phaseCases = 0;
      let winogradCases = 0;
      let winograd4Cases = 0;
      // Random geometries that Winograd takes, with odd channel counts and non-square images.
      for (let i = 0; i < 4; i++) cases.push([geometry(pick(1, 3), pick(1, 9), 4 * pick(1, 4), 4 * pick(1, 4), 4, 4, 2, 1), pick(1, 9)]);
      // Geometries F(4×4, 2×2) takes (output sides a multiple of 4, at least 128 tiles of 4 × 4 in the
      // call): D's 8 × 8 layer at batch 32, 130 images of 4 × 4 outputs (a last block of 2 images in the
      // vector lanes), a non-square one with odd channel counts.
      cases.push([geometry(32, 8, 16, 16, 4, 4, 2, 1), 12], [geometry(130, 3, 8, 8, 4, 4, 2, 1), 5], [geometry(20, 5, 16, 32, 4, 4, 2, 1), 7]);
      // The layers on the image (1 to 4 channels, a row of outputs a multiple of 16), which the image
      // variant takes: D's first and G's last at 32 × 32 × 1 and 64 × 64 × 3, a non-square one with 2 channels.
      const imageLayers: [ConvGeometry, number][] = [
        [geometry(5, 1, 32, 32, 4, 4, 2, 1), 64], [geometry(3, 3, 64, 64, 4, 4, 2, 1), 16], [geometry(2, 2, 32, 64, 4, 4, 2, 1), 8],
      ];
      cases.push(...imageLayers);
      let imageCases = 0;
      for (const [i, [g, k]] of cases.entries()) {
        const image = randomValues(g.n * g.c * g.h * g.w, 200 + i);
        const columns = randomValues(g.n * k * g.outH * g.outW, 300 + i);
        const w = randomValues(k * g.c * g.kh * g.kw, 400 + i);
        const depth = Math.max(g.c * g.kh * g.kw, k * g.kh * g.kw, g.n * g.outH * g.outW);
        const tol = { rtol: 1e-5, atol: 4e-6 * Math.sqrt(depth) };
        for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
          const [input, second, expected] =
            pass === 'convolve' ? [image, w, referenceConvolve(image, w, g, k)]
            : pass === 'adjoint' ? [columns, w, referenceAdjoint(columns, w, g, k)]
            : [image, columns, referenceWeights(image, columns, g, k)];
          const garbage = randomValues(expected.length, 5);
          const out = garbage.slice();
          const done = native.directConvolution!(pass, input, second, g, k, out);
          if (done) assertClose(out, expected, tol, `${pass} ${JSON.stringify(g)} k ${k}`);
          else {
            assert.deepEqual(out, garbage, `a declined ${pass} leaves its output alone`);
            declined++;
          }
          // The other variants (channels-last: other oneDNN kernels; phases: stride-1 convolutions over the
          // image's phases; phases-forward: the adjoint's phases as forward convolutions with the flipped
          // kernel; winograd: F(2×2, 2×2) over the phases, ours; image: the direct convolution of layers with 1
          // to 4 image channels, ours; winograd4: F(4×4, 2×2) over the phases, ours): the same numbers, or
          // declined without a write.
          for (const variant of [1, 2, 3, 4, 5, 6]) {
            const name = native.directConvolutionVariants![variant]!;
            const other = garbage.slice();
            if (native.directConvolution!(pass, input, second, g, k, other, variant)) {
              // Winograd's transforms add and subtract before and after the products: F(2×2, 2×2)'s error
              // is 1.3–2× the direct kernels' (RMS, measured on D's layers), so twice their bound;
              // F(4×4, 2×2)'s (coefficients up to 8) 2–3× F(2×2, 2×2)'s, so four times.
              const bound = variant === 4 ? 2 : variant === 6 ? 4 : 1;
              assertClose(other, expected, { rtol: tol.rtol, atol: bound * tol.atol }, `${pass} ${name} ${JSON.stringify(g)} k ${k}`);
              if (variant >= 2) phaseCases++;
              if (variant === 4) winogradCases++;
              if (variant === 6) {
                assert.ok(winogradApplies(g) && g.outH % 4 === 0 && g.outW % 4 === 0 && g.n * (g.outH / 4) * (g.outW / 4) >= 128, `winograd4 took ${pass} ${JSON.stringify(g)} k ${k}`);
                winograd4Cases++;
              }
              if (variant === 5) {
                assert.ok(g.c <= 4 && winogradApplies(g), `image took ${pass} ${JSON.stringify(g)} k ${k}`);
                imageCases++;
              }
            } else {
              assert.deepEqual(other, garbage, `a declined ${name} ${pass} writes nothing`);
              // Strided layers whose kernel is a multiple of the stride (DCGAN's) are what phases are for.
              if (variant === 2 || (variant === 3 && pass === 'adjoint')) {
                assert.ok(g.strideH === 1 || g.kh % g.strideH !== 0 || i >= 4, `${name} declined ${pass} ${JSON.stringify(g)} k ${k}`);
              }
              // Winograd takes every layer of kernel 4, stride 2, padding 1 with an even output side.
              if (variant === 4) assert.ok(!winogradApplies(g), `winograd declined ${pass} ${JSON.stringify(g)} k ${k}`);
              // F(4×4, 2×2) takes those with output sides a multiple of 4 and at least 128 tiles.
              const tiles4 = g.n * Math.floor(g.outH / 4) * Math.floor(g.outW / 4);
              if (variant === 6) assert.ok(!winogradApplies(g) || g.outH % 4 !== 0 || g.outW % 4 !== 0 || tiles4 < 128, `winograd4 declined ${pass} ${JSON.stringify(g)} k ${k}`);
            }
          }
        }
      }
      // The DCGAN geometries are never declined; some random ones may be (oneDNN's padding rules).
      assert.ok(declined < cases.length, `${declined} of ${cases.length * 3} passes declined`);
      // DCGAN's two strided layers in three passes at least, and some of the random ones.
      assert.ok(phaseCases > 8, `phases ran ${phaseCases} passes`);
      // D's and G's middle layers and the four added above, three passes each.
      assert.ok(winogradCases >= 18, `winograd ran ${winogradCases} passes`);
      // Of those, the three added for it, D's 16 × 16 layer and the 3-channel image layer: three passes each.
      assert.ok(winograd4Cases >= 15, `winograd4 ran ${winograd4Cases} passes`);
      // Every pass of the image layers (whatever the CPU's vector width: 16 outputs are whole vectors).
      assert.ok(imageCases >= 3 * imageLayers.length, `image ran ${imageCases} passes`);
      if (process.env.ONEDNN_MAX_CPU_ISA !== undefined) {
        assert.doesNotMatch(native.directConvImpl('convolve', cases[0]![0], cases[0]![1], 2) ?? '', /avx512/, `oneDNN is limited to ${process.env.ONEDNN_MAX_CPU_ISA} here`);
      }
    } finally {
      native.setDirectConv(previous);
    }
  });

  it("the policy: 'rule' takes the middle layers and leaves 1×1 column sides and few-channel images to im2col + GEMM; 'auto' times the large ones", () => {
    const previous = native.setDirectConv('rule');
    try {
      const middle = geometry(2, 64, 16, 16, 4, 4, 2, 1);
      const jit = native.directConvImpl('convolve', middle, 128)?.startsWith('jit') === true;
      for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
        // Only where oneDNN has a JIT kernel for this CPU does the rule take it.
        assert.equal(native.convolutionPolicy!(pass, middle, 128), jit ? 'direct' : 'gemm', `${pass} of a middle layer`);
        assert.equal(native.convolutionPolicy!(pass, geometry(2, 512, 4, 4, 4, 4, 1, 0), 1), 'gemm', `${pass} with a 1×1 column side`);
      }
      assert.equal(native.convolutionPolicy!('adjoint', geometry(2, 3, 16, 16, 4, 4, 2, 1), 64), 'gemm', 'the adjoint onto a 3-channel image');
      assert.equal(native.convolutionPolicy!('convolve', geometry(2, 3, 16, 16, 4, 4, 2, 1), 64), jit ? 'direct' : 'gemm', 'the forward from a 3-channel image');
      native.setDirectConv('auto');
      // A batch of 64 makes the middle layer 1.07 GFLOP: worth timing (Winograd applies to it, so
      // whatever oneDNN has); one image (17 MFLOP) is not.
      assert.equal(native.convolutionPolicy!('convolve', geometry(64, 64, 16, 16, 4, 4, 2, 1), 128), 'time');
      // D's first layer and G's last at 32 × 32 × 1 (34 MFLOP): the image variant is timed against the rest.
      for (const pass of ['convolve', 'adjoint', 'weights'] as const) {
        assert.equal(native.convolutionPolicy!(pass, geometry(64, 1, 32, 32, 4, 4, 2, 1), 64), 'time', `${pass} of a 1-channel image layer`);
      }
      // G's last layer: oneDNN pads the 3 channels, but Winograd does not, so it is timed.
      assert.equal(native.convolutionPolicy!('adjoint', geometry(64, 3, 64, 64, 4, 4, 2, 1), 64), 'time', "the adjoint onto G's 3-channel image");
      // Where Winograd does not apply (stride 1), the few-channel adjoint stays with im2col + GEMM.
      assert.equal(native.convolutionPolicy!('adjoint', geometry(64, 3, 64, 64, 3, 3, 1, 1), 64), 'gemm', 'a stride-1 adjoint onto 3 channels');
      assert.equal(native.convolutionPolicy!('convolve', geometry(1, 64, 16, 16, 4, 4, 2, 1), 128), jit ? 'direct' : 'gemm');
      assert.equal(native.convolutionPolicy!('convolve', geometry(64, 512, 4, 4, 4, 4, 1, 0), 1), 'gemm');
      native.setDirectConv('on');
      assert.equal(native.convolutionPolicy!('adjoint', geometry(2, 3, 16, 16, 4, 4, 2, 1), 64), 'direct');
      native.setDirectConv('off');
      assert.equal(native.convolutionPolicy!('convolve', middle, 128), 'gemm');
    } finally {
      native.setDirectConv(previous);
    }
  });

  it("'off' declines everything; sizes are checked before C runs; a bad mode is an error", () => {
    const g = geometry(2, 8, 8, 8, 4, 4, 2, 1);
    const previous = native.setDirectConv('off');
    try {
      assert.equal(native.directConvolution!('convolve', new Float32Array(2 * 8 * 64), new Float32Array(16 * 8 * 16), g, 16, new Float32Array(2 * 16 * 16)), false);
      native.setDirectConv('on');
      assert.throws(
        () => native.directConvolution!('convolve', new Float32Array(2 * 8 * 64), new Float32Array(16 * 8 * 16), g, 16, new Float32Array(2 * 16 * 16 - 1)),
        /native directConvolution: output has 511 elements but the call reaches 512/,
      );
      assert.throws(() => native.directConvolution!('adjoint', new Float32Array(10), new Float32Array(16 * 8 * 16), g, 16, new Float32Array(2 * 8 * 64)), /input has 10 elements/);
      assert.throws(() => native.directConvolution!('weights', new Float32Array(2 * 8 * 64), new Float32Array(2 * 16 * 16 - 2), g, 16, new Float32Array(16 * 8 * 16)), /second has 510 elements but the call reaches 512/);
      assert.throws(() => native.directConvolution!('convolve', new Float32Array(2 * 8 * 64), new Float32Array(16 * 8 * 16), g, 16, new Float32Array(2 * 16 * 16), 7), /variant must be 0\.\.6 \(blocked, channels-last, phases, phases-forward, winograd, image, winograd4\), got 7/);
      assert.deepEqual(native.directConvolutionVariants, ['blocked', 'channels-last', 'phases', 'phases-forward', 'winograd', 'image', 'winograd4']);
      assert.throws(() => native.setDirectConv('sometimes' as 'on'), /setDirectConv: the mode must be one of auto, rule, on, off, got sometimes/);
      // What the CLI prints as the engine says whether oneDNN takes part.
      native.setDirectConv('off');
      assert.doesNotMatch(native.description!, /oneDNN/);
      native.setDirectConv('rule');
      assert.match(native.description!, /\+ oneDNN \d+\.\d+\.\d+ convolutions where faster$/);
      native.setDirectConv('auto');
      assert.match(native.description!, /\+ oneDNN \d+\.\d+\.\d+ convolutions where faster \(timed\)$/);
    } finally {
      native.setDirectConv(previous);
    }
  });

  it('a batch of large images goes through in chunks (the blocked copies stay within 64 MiB) with the same numbers', () => {
    const previous = native.directConv;
    try {
      // 7 images of 16 × 384 × 384: about 12 MiB of blocked input and output each, so chunks of 5 and 2.
      const x = tensor(randomValues(7 * 16 * 384 * 384, 31), [7, 16, 384, 384]);
      const y = tensor(randomValues(7 * 16 * 192 * 192, 32), [7, 16, 192, 192]);
      const w = tensor(randomValues(16 * 16 * 4 * 4, 33, 0.1), [16, 16, 4, 4]);
      const run = (mode: 'on' | 'off'): Float32Array[] => {
        native.setDirectConv(mode);
        return [conv2d(x, w, null, { stride: 2, padding: 1 }), convTranspose2d(y, w, null, { stride: 2, padding: 1 })].map((t) => Float32Array.from(t.data));
      };
      const off = run('off');
      const on = run('on');
      assertClose(on[0]!, off[0]!, { rtol: 1e-4, atol: 1e-4 }, 'conv2d');
      assertClose(on[1]!, off[1]!, { rtol: 1e-4, atol: 1e-4 }, 'convTranspose2d');
      // The phase variants, chunked the same way (each chunk's phases interleaved from and into its images).
      const g = geometry(7, 16, 384, 384, 4, 4, 2, 1);
      for (const [pass, variant, input, expected] of [
        ['convolve', 2, x.data, off[0]!], ['adjoint', 2, y.data, off[1]!], ['adjoint', 3, y.data, off[1]!],
        ['convolve', 4, x.data, off[0]!], ['adjoint', 4, y.data, off[1]!],
      ] as const) {
        const out = new Float32Array(expected.length);
        assert.ok(native.directConvolution!(pass, input, w.data, g, 16, out, variant), `${pass} variant ${variant} ran`);
        assertClose(out, expected, { rtol: 1e-4, atol: 1e-4 }, `${pass} ${native.directConvolutionVariants![variant]}`);
      }
    } finally {
      native.setDirectConv(previous);
    }
  });

  it('winograd over chunks of images: the weight gradient summed across chunks and threads, the last chunk shorter', () => {
    // Each thread takes its own images in chunks of about 128 tiles: 13 images of 32 × 64 × 64 (256
    // tiles each) go one at a time, 13 on 1 thread, 7 and 6 on 2, each thread summing its own part of
    // the weight gradient. With fewer than two images per thread the chunks are shared instead, within
    // 16 MiB of transformed tiles: 3 images of 32 × 128 × 128 (5.9 MB each) go as 2 and 1.
    const cases: [ConvGeometry, number, number][] = [
      [geometry(13, 32, 64, 64, 4, 4, 2, 1), 32, 1], [geometry(13, 32, 64, 64, 4, 4, 2, 1), 32, 2], [geometry(3, 32, 128, 128, 4, 4, 2, 1), 32, 2],
    ];
    const threads = native.threads;
    try {
      for (const [g, k, n] of cases) {
        native.setThreads(n);
        const image = randomValues(g.n * g.c * g.h * g.w, 41);
        const columns = randomValues(g.n * k * g.outH * g.outW, 42);
        const w = randomValues(k * g.c * 16, 43, 0.1);
        const depth = { convolve: g.c * 16, adjoint: k * 16, weights: g.n * g.outH * g.outW };
        for (const [pass, input, second, expected] of [
          ['convolve', image, w, referenceConvolve(image, w, g, k)],
          ['adjoint', columns, w, referenceAdjoint(columns, w, g, k)],
          ['weights', image, columns, referenceWeights(image, columns, g, k)],
        ] as const) {
          for (const [variant, bound] of [[4, 1], [6, 2]] as const) {
            const out = randomValues(expected.length, 44);
            const what = `${native.directConvolutionVariants![variant]} ${pass}, ${g.n} images of ${g.h}², ${n} thread(s)`;
            assert.ok(native.directConvolution!(pass, input, second, g, k, out, variant), `${what} ran`);
            assertClose(out, expected, { rtol: 1e-5, atol: bound * 1e-5 * Math.sqrt(depth[pass]) }, what);
          }
        }
      }
    } finally {
      native.setThreads(threads);
    }
  });

  it("winograd4 keeps U only for weights that are bitwise the same: weights changed in place, and two sets of one shape in turn, give each its own numbers", () => {
    // F(4×4, 2×2) keeps its transformed weights for the weights last seen (checked against a copy):
    // Adam updates weights in place, so a buffer seen before may hold new values. Small weights are
    // compared on the calling thread, those of 64 KiB and more by every thread at once (128 KiB here).
    for (const [c, k] of [[8, 12], [32, 64]] as const) {
      const g = geometry(32, c, 16, 16, 4, 4, 2, 1);
      const image = randomValues(g.n * g.c * g.h * g.w, 61);
      const columns = randomValues(g.n * k * g.outH * g.outW, 62);
      const first = randomValues(k * g.c * 16, 63, 0.1);
      const second = randomValues(k * g.c * 16, 64, 0.1);
      const tol = (depth: number): { rtol: number; atol: number } => ({ rtol: 1e-5, atol: 1.6e-5 * Math.sqrt(depth) });
      const check = (w: Float32Array, what: string): void => {
        const y = new Float32Array(g.n * k * g.outH * g.outW);
        assert.ok(native.directConvolution!('convolve', image, w, g, k, y, 6), `${what}: convolve ran`);
        assertClose(y, referenceConvolve(image, w, g, k), tol(g.c * 16), `${what}: convolve (${c} → ${k})`);
        const x = new Float32Array(image.length);
        assert.ok(native.directConvolution!('adjoint', columns, w, g, k, x, 6), `${what}: adjoint ran`);
        assertClose(x, referenceAdjoint(columns, w, g, k), tol(k * 16), `${what}: adjoint (${c} → ${k})`);
      };
      check(first, 'first weights');
      check(second, 'second weights, same shape');
      check(first, 'first weights again');
      first[7] = first[7]! + 0.5;
      first[first.length - 1] = first[first.length - 1]! - 0.25;
      check(first, 'first weights changed in place');
      for (let i = 0; i < 8; i++) {
        // Changes anywhere in the weights: the first line, the middle, the last block.
        const at = [3, (second.length >> 1) + i, second.length - 1 - i][i % 3]!;
        second[at] = second[at]! + 0.01 * (i + 1);
        check(i % 2 === 0 ? second : first, `round ${i}`);
      }
    }
  });

  it('conv2d and convTranspose2d, forward and both gradients, agree with the direct path on and off', () => {
    const previous = native.directConv;
    try {
      const x = randomValues(4 * 32 * 16 * 16, 7);
      const w = randomValues(64 * 32 * 4 * 4, 8, 0.1);
      const dy = randomValues(4 * 64 * 8 * 8, 9);
      const run = (mode: 'on' | 'off'): Float32Array[] => {
        native.setDirectConv(mode);
        return stridedConvsWithGradients(x, w, dy, 4, 32, 16, 64);
      };
      const off = run('off');
      const on = run('on');
      for (const [i, values] of on.entries()) assertClose(values, off[i]!, { rtol: 1e-4, atol: 1e-4 }, ['conv y', 'conv dx', 'conv dW', 'convT y', 'convT dx', 'convT dW'][i]);
    } finally {
      native.setDirectConv(previous);
    }
  });

  // AVX2 machines (AMD Zen 2 among them) get oneDNN's kernels for 8-channel blocks, whose layouts
  // our phase movers must read and write as well: this file again, with oneDNN limited to AVX2.
  const limited = process.env.ONEDNN_MAX_CPU_ISA;
  it('all of the above with oneDNN limited to AVX2 (8-channel blocks)', { skip: limited === undefined ? false : `this is the run limited to ${limited}` }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', fileURLToPath(import.meta.url)], {
      // Without the runner's NODE_TEST_CONTEXT, the child reports as a run of its own.
      encoding: 'utf8', timeout: 180_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined, ONEDNN_MAX_CPU_ISA: 'AVX2' },
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^# pass [1-9]/m);
    assert.match(run.stdout, /^# fail 0$/m);
  });
});

describe('native Winograd without oneDNN', { skip: availableBackends().includes('native') ? false : 'no native backend here' }, () => {
  it("an addon built without oneDNN still times Winograd where it applies, and only it; the engine's line says so", () => {
    // The real addon as one built without oneDNN answers (native-build.test.ts builds such an
    // addon and runs its Winograd): no oneDNN in its info, and its oneDNN layouts decline.
    const real = loadAddon();
    // (The addon's own properties are read-only: the stand-in shadows them with its own.)
    const withoutDnnl = Object.create(real, {
      info: { value: () => ({ ...real.info(), directConv: undefined }) },
      directConv: { value: (...args: Parameters<NonNullable<NativeAddon['directConv']>>) => (args[17] === 4 ? real.directConv!(...args) : false) },
      directConvImpl: { value: () => null },
    }) as NativeAddon;
    const backend = createNativeBackend(2, withoutDnnl);
    const large = geometry(64, 64, 32, 32, 4, 4, 2, 1);
    assert.equal(backend.convolutionPolicy!('convolve', large, 128), 'time');
    assert.equal(backend.convolutionPolicy!('weights', large, 128), 'time');
    assert.equal(backend.convolutionPolicy!('convolve', geometry(64, 64, 32, 32, 3, 3, 1, 1), 128), 'gemm', 'not kernel 4, stride 2');
    assert.equal(backend.convolutionPolicy!('convolve', geometry(2, 8, 8, 8, 4, 4, 2, 1), 16), 'gemm', 'too small to time');
    assert.match(backend.description!, /\+ Winograd convolutions where faster \(timed\)$/);
    assert.doesNotMatch(backend.description!, /oneDNN/);
    const g = geometry(3, 8, 8, 8, 4, 4, 2, 1);
    const image = randomValues(g.n * g.c * g.h * g.w, 81);
    const w = randomValues(16 * g.c * 16, 82);
    const expected = referenceConvolve(image, w, g, 16);
    for (const variant of [0, 1, 2, 3]) assert.equal(backend.directConvolution!('convolve', image, w, g, 16, new Float32Array(expected.length), variant), false);
    const out = new Float32Array(expected.length);
    assert.equal(backend.directConvolution!('convolve', image, w, g, 16, out, 4), true);
    assertClose(out, expected, { rtol: 1e-5, atol: 8e-6 * Math.sqrt(g.c * 16) }, 'Winograd without oneDNN');
    backend.setDirectConv('off');
    assert.equal(backend.convolutionPolicy!('convolve', large, 128), 'gemm');
    assert.equal(backend.directConvolution!('convolve', image, w, g, 16, out, 4), false);
  });
});
