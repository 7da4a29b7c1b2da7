/**
 * Every fast backend's kernels against the js reference on the same inputs: GEMM on random
 * shapes (odd sizes, 1×1, depths that are not a multiple of the tile, every transpose, alpha
 * and beta, batches, sizes large enough to use every thread), and the other kernels.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createJsBackend, getBackend, setBackend, setThreads, type Backend } from '../src/kernels/index.js';
import type { ConvGeometry, GemmParams, UnaryOp } from '../src/kernels/index.js';
import { availableBackends } from '../src/index.js';
import { referenceAdjoint } from './conv-reference.js';
import { assertClose, randomValues, testRandom } from './helpers.js';
import { ChunkedHeap, RangeAllocator, SharedHeap, StepLayout, planOffsets } from '../src/kernels/heap.js';
import { getAllocator } from '../src/tensor/memory.js';

const reference = createJsBackend();

/** Copies values into arrays owned by `backend` (so a wasm backend works in place). */
function on(backend: Backend, values: Float32Array): Float32Array {
  const a = backend.allocator.alloc(values.length);
  a.set(values);
  return a;
}

/** A square-stride, square-padding geometry and its output size. */
function squareGeometry(n: number, c: number, h: number, w: number, kh: number, kw: number, stride: number, pad: number): ConvGeometry {
  return {
    n, c, h, w, kh, kw, strideH: stride, strideW: stride, padH: pad, padW: pad,
    outH: Math.floor((h + 2 * pad - kh) / stride) + 1, outW: Math.floor((w + 2 * pad - kw) / stride) + 1,
  };
}

function gemmCase(backend: Backend, p: GemmParams, seed: number): void {
  const aLen = (p.batch - 1) * p.strideA + p.m * p.k;
  const bLen = (p.batch - 1) * p.strideB + p.k * p.n;
  const cLen = (p.batch - 1) * p.strideC + p.m * p.n;
  const a = randomValues(aLen, seed);
  const b = randomValues(bLen, seed + 1);
  const c = randomValues(cLen, seed + 2);
  const expected = c.slice();
  reference.gemm(p, a, b, expected);
  const out = on(backend, c);
  backend.gemm(p, on(backend, a), on(backend, b), out);
  // Float32 sums in another order: error grows with depth.
  assertClose(out, expected, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(p.k + 1) * 4 }, `gemm ${JSON.stringify(p)}`);
}

const fastBackends = availableBackends().filter((n) => n !== 'js');

for (const name of fastBackends) {
  describe(`${name} kernels against the js reference`, () => {
    let backend: Backend;
    it('starts', () => {
      backend = setBackend(name);
      assert.equal(getBackend().name, name);
    });

    it('GEMM on random shapes, all transposes, alpha and beta', () => {
      const rand = testRandom(42);
      const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 7, 1], [5, 1, 3], [3, 3, 257], [4, 8, 256], [17, 33, 29], [64, 9, 130]];
      for (let i = 0; i < 30; i++) shapes.push([pick(1, 70), pick(1, 90), pick(1, 300)]);
      let seed = 1;
      for (const [m, n, k] of shapes) {
        for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const beta = seed % 3 === 0 ? 0.5 : 0;
          gemmCase(backend, { transA, transB, m, n, k, alpha: seed % 5 === 0 ? -1.5 : 1, beta, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, seed++);
        }
      }
    });

    it('GEMM batched with shared and strided operands', () => {
      gemmCase(backend, { transA: false, transB: false, m: 6, n: 10, k: 7, alpha: 1, beta: 0, batch: 3, strideA: 0, strideB: 70, strideC: 60 }, 500);
      gemmCase(backend, { transA: true, transB: true, m: 9, n: 5, k: 12, alpha: 2, beta: 1, batch: 4, strideA: 108, strideB: 60, strideC: 45 }, 501);
    });

    it('GEMM on conv-sized problems that use every thread (split along N and along M)', () => {
      gemmCase(backend, { transA: false, transB: false, m: 64, n: 2048, k: 300, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 600);
      gemmCase(backend, { transA: true, transB: false, m: 1024, n: 24, k: 130, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 601);
      gemmCase(backend, { transA: false, transB: true, m: 130, n: 1040, k: 513, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 602);
      // Thin with one long side (G's projection and its gradient, D's last layer; native: oneDNN's sgemm where built with it), with alpha and beta.
      gemmCase(backend, { transA: false, transB: false, m: 64, n: 4096, k: 100, alpha: -1.5, beta: 0.5, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 603);
      gemmCase(backend, { transA: true, transB: false, m: 100, n: 4096, k: 64, alpha: 1, beta: 1, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 604);
      gemmCase(backend, { transA: false, transB: false, m: 64, n: 4096, k: 1, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 605);
      gemmCase(backend, { transA: false, transB: true, m: 64, n: 1, k: 4096, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 606);
      // Outer products (k = 1; native: its own loop rather than the BLAS), threaded and batched, every transpose.
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        gemmCase(backend, { transA, transB, m: 70, n: 1030, k: 1, alpha: -1.5, beta: 0.5, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, 607);
        gemmCase(backend, { transA, transB, m: 9, n: 33, k: 1, alpha: 2, beta: 0, batch: 3, strideA: 9, strideB: 0, strideC: 300 }, 608);
      }
    });

    // Our wasm GEMM splits work so that sums keep their order; OpenBLAS (native) blocks its
    // depth loop differently per thread count, so there only a fixed count is reproducible.
    const threadInvariant = name !== 'native';
    it(threadInvariant ? 'GEMM results do not depend on the thread count (bitwise)' : 'GEMM results are reproducible at a fixed thread count (bitwise) and close across counts', () => {
      const p: GemmParams = { transA: false, transB: true, m: 96, n: 1000, k: 700, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
      const a = on(backend, randomValues(p.m * p.k, 7));
      const b = on(backend, randomValues(p.n * p.k, 8));
      const run = (threads: number): Float32Array => {
        setThreads(threads);
        const c = on(backend, new Float32Array(p.m * p.n));
        backend.gemm(p, a, b, c);
        return c.slice();
      };
      const results = [1, 2, 3].map(run);
      const again = [1, 2, 3].map(run);
      setThreads(2);
      for (let i = 0; i < 3; i++) assert.deepEqual(again[i], results[i]);
      if (threadInvariant) {
        assert.deepEqual(results[1], results[0]);
        assert.deepEqual(results[2], results[0]);
      } else {
        assertClose(results[1]!, results[0]!, { rtol: 1e-5, atol: 1e-4 }, '2 threads vs 1');
        assertClose(results[2]!, results[0]!, { rtol: 1e-5, atol: 1e-4 }, '3 threads vs 1');
      }
    });

    it('im2col and col2im on random geometries', () => {
      const rand = testRandom(9);
      const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      const geometry = (n: number, c: number, h: number, w: number, kh: number, kw: number, strideH: number, strideW: number, padH: number, padW: number): ConvGeometry => ({
        n, c, h, w, kh, kw, strideH, strideW, padH, padW,
        outH: Math.floor((h + 2 * padH - kh) / strideH) + 1, outW: Math.floor((w + 2 * padW - kw) / strideW) + 1,
      });
      // DCGAN's own geometries (k4 s2 p1, and the kernel that covers the whole image), large enough for every thread,
      // outputs above 8×8 (the native kernels' row paths for stride 1, 2 and 3), then random small ones.
      const cases = [geometry(8, 16, 16, 16, 4, 4, 2, 2, 1, 1), geometry(64, 40, 4, 4, 4, 4, 1, 1, 0, 0), geometry(3, 5, 3, 2, 3, 2, 1, 1, 0, 0), geometry(4, 3, 33, 31, 4, 4, 2, 2, 1, 1), geometry(2, 3, 40, 37, 5, 3, 3, 2, 2, 1), geometry(2, 2, 30, 30, 3, 3, 1, 1, 1, 1)];
      for (let i = 0; i < 40; i++) {
        const kh = pick(1, 5), kw = pick(1, 5), strideH = pick(1, 3), strideW = pick(1, 3), padH = pick(0, 2), padW = pick(0, 2);
        const h = pick(Math.max(1, kh - 2 * padH), 12), w = pick(Math.max(1, kw - 2 * padW), 12);
        cases.push(geometry(pick(1, 3), pick(1, 4), h, w, kh, kw, strideH, strideW, padH, padW));
      }
      for (const [i, g] of cases.entries()) {
        const { h, w, kh, kw } = g;
        const x = randomValues(g.n * g.c * h * w, 100 + i);
        const colsLen = g.c * kh * kw * g.n * g.outH * g.outW;
        const expected = new Float32Array(colsLen);
        reference.im2col(x, g, expected);
        const cols = on(backend, randomValues(colsLen, 3)); // garbage that must be overwritten
        backend.im2col(on(backend, x), g, cols);
        assert.deepEqual(cols, expected, `im2col ${JSON.stringify(g)}`);
        const back = new Float32Array(x.length);
        reference.col2im(expected, g, back);
        const xOut = on(backend, randomValues(x.length, 4));
        backend.col2im(cols, g, xOut);
        assertClose(xOut, back, { rtol: 1e-6, atol: 1e-6 }, `col2im ${JSON.stringify(g)}`);
      }
    });

    it('convAdjointByImages (where the backend has it): col2im(Wᵀ·y) image by image, as the reference', (t) => {
      if (backend.convAdjointByImages === undefined) {
        t.skip(`${name} has no convAdjointByImages`);
        return;
      }
      const rand = testRandom(78);
      const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      // G's last layer (onto 3 channels) and D's first layer's dx at a small batch, a 4×4 column side
      // (declined: too narrow a product per image), then random ones.
      const cases: Array<[ConvGeometry, number]> = [[squareGeometry(5, 3, 32, 32, 4, 4, 2, 1), 16], [squareGeometry(3, 1, 16, 16, 4, 4, 2, 1), 8], [squareGeometry(4, 6, 8, 8, 4, 4, 2, 1), 5]];
      for (let i = 0; i < 16; i++) {
        const kh = pick(1, 5), kw = pick(1, 5), stride = pick(1, 2), pad = pick(0, 2);
        cases.push([squareGeometry(pick(1, 4), pick(1, 6), pick(Math.max(1, kh - 2 * pad), 24), pick(Math.max(1, kw - 2 * pad), 24), kh, kw, stride, pad), pick(1, 7)]);
      }
      let ran = 0;
      for (const [i, [g, k]] of cases.entries()) {
        const y = randomValues(g.n * k * g.outH * g.outW, 500 + i);
        const w = randomValues(k * g.c * g.kh * g.kw, 600 + i);
        const garbage = randomValues(g.n * g.c * g.h * g.w, 7);
        const image = on(backend, garbage);
        if (backend.convAdjointByImages!(on(backend, w), on(backend, y), g, k, image)) {
          assertClose(image, referenceAdjoint(y, w, g, k), { rtol: 1e-5, atol: 4e-6 * Math.sqrt(k * g.kh * g.kw + 1) }, `convAdjointByImages ${JSON.stringify(g)} k ${k}`);
          ran++;
        } else {
          assert.ok(g.outH * g.outW < 64, `convAdjointByImages declined ${JSON.stringify(g)}`);
          assert.deepEqual(image, garbage, 'a declined convAdjointByImages writes nothing');
        }
      }
      assert.ok(ran >= 4, `convAdjointByImages ran ${ran} of ${cases.length}`);
      const g = cases[0]![0];
      assert.throws(() => backend.convAdjointByImages!(new Float32Array(10), new Float32Array(g.n * 16 * 256), g, 16, new Float32Array(g.n * 3 * 1024)), /convAdjointByImages: weight has 10 elements/);
    });

    it('convGemm (where the backend has it): the GEMM with im2col(x) made while packing, both orientations, as gemm over stored columns', (t) => {
      if (backend.convGemm === undefined) {
        t.skip(`${name} has no convGemm`);
        return;
      }
      const rand = testRandom(77);
      const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      // DCGAN's k4 s2 p1 (rows of 16 and 8 columns, several KC blocks of depth), a 1×1 column side, then random small ones.
      const cases: Array<[ConvGeometry, number]> = [[squareGeometry(6, 32, 32, 32, 4, 4, 2, 1), 40], [squareGeometry(5, 24, 16, 16, 4, 4, 2, 1), 9], [squareGeometry(7, 64, 4, 4, 4, 4, 1, 0), 3]];
      for (let i = 0; i < 25; i++) {
        const kh = pick(1, 5), kw = pick(1, 5), stride = pick(1, 3), pad = pick(0, 2);
        cases.push([squareGeometry(pick(1, 4), pick(1, 6), pick(Math.max(1, kh - 2 * pad), 13), pick(Math.max(1, kw - 2 * pad), 13), kh, kw, stride, pad), pick(1, 20)]);
      }
      for (const [i, [g, k]] of cases.entries()) {
        const rows = g.c * g.kh * g.kw;
        const columns = g.n * g.outH * g.outW;
        const x = randomValues(g.n * g.c * g.h * g.w, 900 + i);
        const cols = new Float32Array(rows * columns);
        reference.im2col(x, g, cols);
        const beta = i % 3 === 0 ? 1 : 0;
        // Forward: W [k, rows] · cols. Weight gradient: dy [k, columns] · colsᵀ.
        for (const transB of [false, true]) {
          const p: GemmParams = { transA: false, transB, m: k, n: transB ? rows : columns, k: transB ? columns : rows, alpha: 1, beta, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
          const a = randomValues(p.m * p.k, 950 + i);
          const c = randomValues(p.m * p.n, 990 + i);
          const expected = c.slice();
          reference.gemm(p, a, cols, expected);
          const out = on(backend, c);
          backend.convGemm!(p, on(backend, a), on(backend, x), g, out);
          assertClose(out, expected, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(p.k + 1) * 4 }, `convGemm ${transB ? 'transB ' : ''}${JSON.stringify(g)} k ${k}`);
          // The forward's C, or the weight gradient's A (dy), as images [n, k, outH·outW]: the same values;
          // or declined, writing nothing.
          const plane = g.outH * g.outW;
          const asImages = (channelMajor: Float32Array): Float32Array => {
            const images = new Float32Array(channelMajor.length);
            reference.permute(channelMajor, [k, g.n, plane], [1, 0, 2], images);
            return images;
          };
          const tol = { rtol: 1e-5, atol: 2e-6 * Math.sqrt(p.k + 1) * 4 };
          if (!transB) {
            const images = on(backend, asImages(c));
            const before = images.slice();
            if (backend.convGemm!(p, on(backend, a), on(backend, x), g, images, { out: true })) {
              assertClose(images, asImages(expected), tol, `convGemm out as images ${JSON.stringify(g)} k ${k}`);
            } else {
              assert.deepEqual(images, before, 'a declined convGemm writes nothing');
              assert.ok(plane % 8 !== 0, `convGemm declined images out for ${JSON.stringify(g)}`);
            }
          } else {
            const gradient = on(backend, c);
            assert.ok(backend.convGemm!(p, on(backend, asImages(a)), on(backend, x), g, gradient, { in: true }), 'dy as images');
            assertClose(gradient, expected, tol, `convGemm with dy as images ${JSON.stringify(g)} k ${k}`);
          }
        }
      }
      const g = squareGeometry(2, 3, 8, 8, 4, 4, 2, 1);
      assert.throws(
        () => backend.convGemm!({ transA: false, transB: false, m: 4, n: 32, k: 47, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, new Float32Array(4 * 48), new Float32Array(384), g, new Float32Array(128)),
        /convGemm: op\(B\) is the im2col of 48×32, so k must be 48 and n 32 \(got k 47, n 32\)/,
      );
      assert.throws(
        () => backend.convGemm!({ transA: false, transB: false, m: 4, n: 32, k: 48, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 }, new Float32Array(4 * 48), new Float32Array(383), g, new Float32Array(128)),
        /convGemm: image has 383 elements but the call reaches 384/,
      );
    });

    it('elementwise, reductions, batch norm and Adam', () => {
      const n = 70001; // large enough for the thread pool, odd for the SIMD tails
      const x = randomValues(n, 11, 2);
      const y = randomValues(n, 12);
      const dy = randomValues(n, 13);
      for (const op of ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'neg', 'exp', 'abs', 'square'] as UnaryOp[]) {
        const e = new Float32Array(n);
        reference.unary(op, x, e, 0.2);
        const o = on(backend, new Float32Array(n));
        backend.unary(op, on(backend, x), o, 0.2);
        assertClose(o, e, { rtol: 2e-6, atol: 1e-7 }, `unary ${op}`);
        const eb = new Float32Array(n);
        reference.unaryBackward(op, x, e, dy, eb, 0.2);
        const ob = on(backend, new Float32Array(n));
        backend.unaryBackward(op, on(backend, x), on(backend, e), on(backend, dy), ob, 0.2);
        assertClose(ob, eb, { rtol: 2e-6, atol: 1e-7 }, `unary backward ${op}`);
      }
      for (const op of ['add', 'sub', 'mul', 'div'] as const) {
        const e = new Float32Array(n);
        reference.binary(op, x, [n], y, [n], e, [n]);
        const o = on(backend, new Float32Array(n));
        backend.binary(op, on(backend, x), [n], on(backend, y), [n], o, [n]);
        assertClose(o, e, { rtol: 1e-6, atol: 0 }, `binary ${op}`);
        const es = new Float32Array(n);
        reference.scalar(op, x, 1.7, es);
        const os = on(backend, new Float32Array(n));
        backend.scalar(op, on(backend, x), 1.7, os);
        // The reference adds the double 1.7, the kernel its float32 rounding: compare on the operands' scale.
        assertClose(os, es, { rtol: 1e-6, atol: 1e-6 }, `scalar ${op}`);
      }
      const [a, b, rest] = [7, 5, 2003];
      const xs = randomValues(a * b * rest, 14);
      const ep = new Float32Array(xs.length);
      reference.permute(xs, [a, b, rest], [1, 0, 2], ep);
      const op = on(backend, new Float32Array(xs.length));
      backend.permute(on(backend, xs), [a, b, rest], [1, 0, 2], op);
      assert.deepEqual(op, ep);

      const [bn, bc, bhw] = [6, 9, 1301];
      const bx = randomValues(bn * bc * bhw, 15, 3);
      const bdy = randomValues(bx.length, 16);
      const gamma = randomValues(bc, 17);
      const beta = randomValues(bc, 18);
      const mean = new Float32Array(bc), variance = new Float32Array(bc);
      reference.batchNormStats(bx, bn, bc, bhw, mean, variance);
      const wm = on(backend, new Float32Array(bc)), wv = on(backend, new Float32Array(bc));
      backend.batchNormStats(on(backend, bx), bn, bc, bhw, wm, wv);
      assertClose(wm, mean, { rtol: 1e-6, atol: 1e-7 }, 'mean');
      assertClose(wv, variance, { rtol: 1e-6, atol: 1e-7 }, 'variance');
      const invStd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
      const ey = new Float32Array(bx.length);
      reference.batchNormApply(bx, bn, bc, bhw, mean, invStd, gamma, beta, ey);
      const oy = on(backend, new Float32Array(bx.length));
      backend.batchNormApply(on(backend, bx), bn, bc, bhw, on(backend, mean), on(backend, invStd), on(backend, gamma), on(backend, beta), oy);
      assertClose(oy, ey, { rtol: 1e-5, atol: 1e-6 }, 'batch norm apply');
      for (const batchStats of [true, false]) {
        const edx = new Float32Array(bx.length), edg = new Float32Array(bc), edb = new Float32Array(bc);
        reference.batchNormBackward(bx, bdy, bn, bc, bhw, mean, invStd, gamma, batchStats, edx, edg, edb);
        const odx = on(backend, new Float32Array(bx.length)), odg = on(backend, new Float32Array(bc)), odb = on(backend, new Float32Array(bc));
        backend.batchNormBackward(on(backend, bx), on(backend, bdy), bn, bc, bhw, on(backend, mean), on(backend, invStd), on(backend, gamma), batchStats, odx, odg, odb);
        assertClose(odx, edx, { rtol: 1e-4, atol: 1e-6 }, `batch norm dx (${batchStats})`);
        assertClose(odg, edg, { rtol: 1e-5, atol: 1e-5 }, 'batch norm dgamma');
        assertClose(odb, edb, { rtol: 1e-5, atol: 1e-5 }, 'batch norm dbeta');
      }
      // A ReLU / LeakyReLU fused into the normalisation: the same values as the elementwise kernels after it, forward and backward.
      for (const slope of [0, 0.2]) {
        const er = ey.slice();
        reference.unary(slope === 0 ? 'relu' : 'leakyRelu', er, er, slope);
        const orr = on(backend, new Float32Array(bx.length));
        backend.batchNormApply(on(backend, bx), bn, bc, bhw, on(backend, mean), on(backend, invStd), on(backend, gamma), on(backend, beta), orr, slope);
        assertClose(orr, er, { rtol: 1e-5, atol: 1e-6 }, `batch norm apply + rectifier ${slope}`);
        assert.ok(er.some((v) => v === 0 || (slope > 0 && v < 0)) && er.some((v) => v > 0), 'both sides of the rectifier are exercised');
        const dz = new Float32Array(bx.length);
        reference.unaryBackward(slope === 0 ? 'relu' : 'leakyRelu', er, er, bdy, dz, slope);
        const edx = new Float32Array(bx.length), edg = new Float32Array(bc), edb = new Float32Array(bc);
        reference.batchNormBackward(bx, dz, bn, bc, bhw, mean, invStd, gamma, true, edx, edg, edb);
        const odx = on(backend, new Float32Array(bx.length)), odg = on(backend, new Float32Array(bc)), odb = on(backend, new Float32Array(bc));
        backend.batchNormBackward(on(backend, bx), on(backend, bdy), bn, bc, bhw, on(backend, mean), on(backend, invStd), on(backend, gamma), true, odx, odg, odb,
          { slope, beta: on(backend, beta) });
        assertClose(odx, edx, { rtol: 1e-4, atol: 1e-6 }, `batch norm + rectifier ${slope} dx`);
        assertClose(odg, edg, { rtol: 1e-5, atol: 1e-5 }, `batch norm + rectifier ${slope} dgamma`);
        assertClose(odb, edb, { rtol: 1e-5, atol: 1e-5 }, `batch norm + rectifier ${slope} dbeta`);
      }
      assert.throws(() => backend.batchNormApply(on(backend, bx), bn, bc, bhw, on(backend, mean), on(backend, invStd), null, null, on(backend, new Float32Array(bx.length)), -1),
        /slope ≥ 0/);
      // The statistics of x [n, c, hw], the reference's and the backend's.
      const statsBoth = (x: Float32Array, n: number, c: number, hw: number): { em: Float32Array; ev: Float32Array; om: Float32Array; ov: Float32Array } => {
        const em = new Float32Array(c), ev = new Float32Array(c);
        reference.batchNormStats(x, n, c, hw, em, ev);
        const om = on(backend, new Float32Array(c)), ov = on(backend, new Float32Array(c));
        backend.batchNormStats(on(backend, x), n, c, hw, om, ov);
        return { em, ev, om, ov };
      };
      // Values far from zero (mean 1000, spread 3): the variance as exact as the reference's (no
      // cancellation between a sum of squares and the squared mean).
      for (const [fn, fc, fhw] of [[8, 5, 300], [64, 3, 16], [2, 3, 4096]] as const) {
        const { em, ev, om, ov } = statsBoth(randomValues(fn * fc * fhw, 27, 3).map((v) => v + 1000), fn, fc, fhw);
        assertClose(om, em, { rtol: 1e-6, atol: 0 }, `mean far from zero ${fn}×${fc}×${fhw}`);
        assertClose(ov, ev, { rtol: 1e-5, atol: 0 }, `variance far from zero ${fn}×${fc}×${fhw}`);
      }
      // A channel's first value far from the rest (the native backend's sums are taken about it):
      // the variance still as exact as the reference's; short and long rows, threaded and not.
      for (const [xn, xc, xhw] of [[64, 6, 16], [4, 3, 64], [8, 4, 1031]] as const) {
        const xx = randomValues(xn * xc * xhw, 28, 3).map((v) => v + 5);
        for (let ch = 0; ch < xc; ch++) xx[ch * xhw] = ch % 2 ? 1e4 : -3e3;
        const { em, ev, om, ov } = statsBoth(xx, xn, xc, xhw);
        assertClose(om, em, { rtol: 1e-6, atol: 0 }, `mean with an outlier ${xn}×${xc}×${xhw}`);
        assertClose(ov, ev, { rtol: 1e-5, atol: 0 }, `variance with an outlier ${xn}×${xc}×${xhw}`);
      }
      // …and not finite: a mean that is not finite either and a NaN variance, for that channel only
      // (the reference's mean is ±∞ where the wasm kernel's merges make it NaN).
      for (const [first, nhw] of [[Infinity, 16], [-Infinity, 16], [NaN, 16], [Infinity, 300], [NaN, 300]] as const) {
        const nx = randomValues(4 * 2 * nhw, 29);
        nx[0] = first;
        const { em, ev, om, ov } = statsBoth(nx, 4, 2, nhw);
        assert.ok(!Number.isFinite(om[0]) && Number.isNaN(ov[0]) && Number.isNaN(ev[0]), `non-finite first value ${first}: ${om[0]} ${ov[0]}`);
        assertClose(om.subarray(1), em.subarray(1), { rtol: 1e-6, atol: 1e-7 }, 'the other channel unchanged');
        assertClose(ov.subarray(1), ev.subarray(1), { rtol: 1e-5, atol: 1e-7 }, 'the other channel unchanged');
      }
      // Short rows (small images: the native backend sweeps them in memory order), threaded and not.
      for (const [sn, sc, shw] of [[64, 37, 16], [3, 5, 16], [40, 7, 255]] as const) {
        const sx = randomValues(sn * sc * shw, 23, 3).map((v) => v + 5);
        const sdy = randomValues(sx.length, 24);
        const sg = randomValues(sc, 25), sb = randomValues(sc, 26);
        const em = new Float32Array(sc), ev = new Float32Array(sc);
        reference.batchNormStats(sx, sn, sc, shw, em, ev);
        const om = on(backend, new Float32Array(sc)), ov = on(backend, new Float32Array(sc));
        backend.batchNormStats(on(backend, sx), sn, sc, shw, om, ov);
        assertClose(om, em, { rtol: 1e-6, atol: 1e-7 }, `short-row mean ${sn}×${sc}×${shw}`);
        assertClose(ov, ev, { rtol: 1e-5, atol: 1e-7 }, `short-row variance ${sn}×${sc}×${shw}`);
        const sis = ev.map((v) => 1 / Math.sqrt(v + 1e-5));
        const sy = new Float32Array(sx.length);
        reference.batchNormApply(sx, sn, sc, shw, em, sis, sg, sb, sy, 0.2);
        const edx = new Float32Array(sx.length), edg = new Float32Array(sc), edb = new Float32Array(sc);
        const sdz = new Float32Array(sx.length);
        reference.unaryBackward('leakyRelu', sy, sy, sdy, sdz, 0.2);
        reference.batchNormBackward(sx, sdz, sn, sc, shw, em, sis, sg, true, edx, edg, edb);
        const odx = on(backend, new Float32Array(sx.length)), odg = on(backend, new Float32Array(sc)), odb = on(backend, new Float32Array(sc));
        backend.batchNormBackward(on(backend, sx), on(backend, sdy), sn, sc, shw, on(backend, em), on(backend, sis), on(backend, sg), true, odx, odg, odb,
          { slope: 0.2, beta: on(backend, sb) });
        assertClose(odx, edx, { rtol: 1e-4, atol: 1e-6 }, `short-row dx ${sn}×${sc}×${shw}`);
        assertClose(odg, edg, { rtol: 1e-5, atol: 1e-5 }, `short-row dgamma ${sn}×${sc}×${shw}`);
        assertClose(odb, edb, { rtol: 1e-5, atol: 1e-5 }, `short-row dbeta ${sn}×${sc}×${shw}`);
      }
      const cs = new Float32Array(bc);
      reference.channelSum(bx, bn, bc, bhw, cs);
      const ocs = on(backend, new Float32Array(bc));
      backend.channelSum(on(backend, bx), bn, bc, bhw, ocs);
      assertClose(ocs, cs, { rtol: 1e-5, atol: 1e-4 }, 'channel sum');

      const param = randomValues(n, 19), grad = randomValues(n, 20), m = randomValues(n, 21, 0.1), v = randomValues(n, 22).map(Math.abs);
      const h = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
      const [ep2, em, ev] = [param.slice(), m.slice(), v.slice()];
      reference.adamUpdate(ep2, grad, em, ev, h);
      const [op2, om, ov] = [on(backend, param), on(backend, m), on(backend, v)];
      backend.adamUpdate(op2, on(backend, grad), om, ov, h);
      // The same float32 and float64 rounding steps as the reference (PyTorch's), vector lanes or not: bitwise.
      assert.deepEqual(op2, ep2, 'adam param');
      assert.deepEqual(om, em, 'adam m');
      assert.deepEqual(ov, ev, 'adam v');
    });

    it('a kernel that fails (out-of-bounds access on every thread) throws, and the pool keeps working', () => {
      setThreads(2);
      const p: GemmParams = { transA: false, transB: false, m: 64, n: 512, k: 64, alpha: 1, beta: 0, batch: 2, strideA: 0, strideB: 2 ** 29, strideC: 0 };
      const a = on(backend, randomValues(64 * 64, 40));
      const b = on(backend, randomValues(64 * 512, 41));
      const c = on(backend, new Float32Array(64 * 512));
      // The second batch item's B lies 2 GiB further on: past the end of memory (a trap), on both threads.
      assert.throws(() => backend.gemm(p, a, b, c));
      // Every later call must still see all workers finish its own job (no stale countdown, no hang).
      for (let i = 0; i < 5; i++) gemmCase(backend, { ...p, batch: 1, strideB: 0 }, 700 + i);
    });

    it('kernels also accept arrays from outside its memory (copied in and out)', () => {
      const x = randomValues(100, 30);
      const out = new Float32Array(100);
      backend.unary('tanh', x, out, 0);
      assertClose(out, x.map(Math.tanh), { rtol: 1e-6, atol: 1e-7 }, 'foreign arrays');
    });
  });
}

describe('native kernels check sizes before C runs (an error, never a crash)', { skip: availableBackends().includes('native') ? false : 'the native backend is not available here' }, () => {
  it('short arrays are RangeErrors naming the kernel and the array', () => {
    const backend = setBackend('native');
    const g: ConvGeometry = { n: 2, c: 3, h: 8, w: 8, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, outH: 8, outW: 8 };
    const x = on(backend, randomValues(2 * 3 * 64, 1));
    assert.throws(() => backend.im2col(x, g, new Float32Array(27 * 128 - 1)), /native im2col: columns has 3455 elements but the call reaches 3456/);
    assert.throws(() => backend.col2im(new Float32Array(27 * 128), g, new Float32Array(10)), /native col2im: image has 10 elements/);
    const p: GemmParams = { transA: false, transB: false, m: 4, n: 5, k: 6, alpha: 1, beta: 0, batch: 2, strideA: 24, strideB: 30, strideC: 20 };
    assert.throws(() => backend.gemm(p, new Float32Array(48), new Float32Array(59), new Float32Array(40)), /native gemm: B has 59 elements but the call reaches 60/);
    assert.throws(() => backend.batchNormStats(x, 2, 3, 64, new Float32Array(2), new Float32Array(3)), /native batchNormStats: mean has 2 elements/);
    assert.throws(() => backend.unary('relu', x, new Float32Array(5), 0), /native unary: out has 5 elements/);
    const m = new Float32Array(4);
    assert.throws(() => backend.adamUpdate(new Float32Array(4), new Float32Array(4), m, new Float32Array(3), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 }), /native adamUpdate: v has 3 elements/);
  });
});

describe('RangeAllocator (where tensors go in a heap)', () => {
  it('takes the lowest free range that fits, splits it, and raises the top only when none fits', () => {
    const range = new RangeAllocator(1000);
    assert.equal(range.alloc(100), 0);
    assert.equal(range.alloc(200), 100);
    assert.equal(range.alloc(300), 300);
    range.free(100, 200);
    assert.equal(range.alloc(50), 100, 'the freed range, not the top');
    assert.deepEqual(range.freeRanges(), [{ offset: 150, bytes: 150 }]);
    assert.equal(range.alloc(160), 600, 'too large for the hole: from the top');
    assert.equal(range.top, 760);
    assert.equal(range.alloc(300), null, 'past the limit');
    assert.equal(range.alloc(240), 760, 'exactly up to the limit');
  });

  it('merges a freed range with its free neighbours, so memory freed in one size serves another', () => {
    const range = new RangeAllocator(1 << 20);
    const offsets = [64, 64, 64, 64].map((bytes) => range.alloc(bytes)!);
    range.alloc(64); // keeps the top above them
    range.free(offsets[0]!, 64);
    range.free(offsets[2]!, 64);
    assert.equal(range.freeRanges().length, 2);
    range.free(offsets[1]!, 64); // joins both neighbours
    assert.deepEqual(range.freeRanges(), [{ offset: 0, bytes: 192 }]);
    assert.equal(range.alloc(192), 0, 'three small blocks become one larger');
    assert.equal(range.peak, 320);
  });

  it('brings the top down when the highest range is freed, and keeps the peak', () => {
    const range = new RangeAllocator(1 << 20);
    const a = range.alloc(128)!;
    const b = range.alloc(256)!;
    const c = range.alloc(512)!;
    range.free(b, 256);
    range.free(c, 512); // merges with b's range, and that range touched the top
    assert.equal(range.top, 128);
    assert.deepEqual(range.freeRanges(), []);
    assert.equal(range.peak, 896);
    range.free(a, 128);
    assert.equal(range.top, 0);
    assert.equal(range.alloc(1024), 0);
  });

  it('stays consistent under random allocations and frees (no overlaps, everything free at the end)', () => {
    const range = new RangeAllocator(1 << 24);
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const live: Array<[number, number]> = [];
    for (let i = 0; i < 3000; i++) {
      if (live.length > 0 && random() < 0.45) {
        const [offset, bytes] = live.splice(Math.floor(random() * live.length), 1)[0]!;
        range.free(offset, bytes);
      } else {
        const bytes = 64 * (1 + Math.floor(random() * 100));
        const offset = range.alloc(bytes)!;
        for (const [o, b] of live) assert.ok(offset + bytes <= o || o + b <= offset, 'no two live ranges overlap');
        live.push([offset, bytes]);
      }
      for (const f of range.freeRanges()) for (const [o, b] of live) assert.ok(f.offset + f.bytes <= o || o + b <= f.offset, 'no free range overlaps a live one');
    }
    for (const [offset, bytes] of live) range.free(offset, bytes);
    assert.equal(range.top, 0);
    assert.deepEqual(range.freeRanges(), []);
  });
});

describe('StepLayout (a training step laid out by the last one)', () => {
  type Op = [id: number, bytes: number]; // id > 0: allocate bytes; id < 0: free that block
  /** Runs one step's allocations; returns the highest top and checks that no two live blocks overlap. */
  const runStep = (layout: StepLayout, range: RangeAllocator, ops: readonly Op[]): number => {
    const live = new Map<number, [number, number]>();
    let top = 0;
    for (const [id, bytes] of ops) {
      if (id < 0) {
        const [offset, size] = live.get(-id)!;
        live.delete(-id);
        layout.free(offset, size);
        continue;
      }
      const offset = layout.alloc(bytes)!;
      for (const [o, b] of live.values()) assert.ok(offset + bytes <= o || o + b <= offset, `block ${id} overlaps a live block`);
      live.set(id, [offset, bytes]);
      top = Math.max(top, range.top);
    }
    return top;
  };
  // First fit puts 3 (128 B) above 2, since 1's hole is too small: the top reaches 256 where 192 are ever live.
  const step: Op[] = [[1, 64], [2, 64], [-1, 0], [3, 128], [-2, 0], [-3, 0]];

  it('places a repeated step at its live peak where first fit leaves a hole', () => {
    const range = new RangeAllocator(1 << 20);
    const layout = new StepLayout(range);
    assert.equal(runStep(layout, range, step), 256, 'before any beginStep: first fit');
    layout.beginStep();
    assert.equal(runStep(layout, range, step), 256, 'the first step is recorded, placed by first fit');
    layout.beginStep();
    assert.equal(runStep(layout, range, step), 192, 'planned');
    layout.beginStep();
    assert.equal(runStep(layout, range, step), 192, 'and again');
    assert.equal(range.top, 0);
  });

  it('plans around blocks that stay in use, and skips allocations that only the recorded step made', () => {
    const range = new RangeAllocator(1 << 20);
    const layout = new StepLayout(range);
    const weights = range.alloc(64)!; // in use all along, at 0
    layout.beginStep();
    // The first step also creates state that lives on (as Adam's moments do).
    const first = runStep(layout, range, [[9, 32], ...step]);
    layout.beginStep();
    assert.ok(runStep(layout, range, step) <= first);
    layout.beginStep();
    const top = runStep(layout, range, step);
    assert.equal(top, 64 + 32 + 192, 'weights, the state, and the step at its live peak');
    assert.equal(weights, 0);
  });

  it('falls back to first fit, without overlaps, when a step differs from the plan, and plans from it next time', () => {
    const range = new RangeAllocator(1 << 24);
    const layout = new StepLayout(range);
    let seed = 11;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const randomStep = (): Op[] => {
      const ops: Op[] = [];
      const live: number[] = [];
      for (let id = 1; id <= 40; id++) {
        ops.push([id, 64 * (1 + Math.floor(random() * 8))]);
        live.push(id);
        if (random() < 0.5) ops.push([-live.splice(Math.floor(random() * live.length), 1)[0]!, 0]);
      }
      for (const id of live) ops.push([-id, 0]);
      return ops;
    };
    const steps = [randomStep(), randomStep()];
    for (let i = 0; i < 30; i++) {
      layout.beginStep();
      runStep(layout, range, steps[i % 7 === 3 ? 1 : 0]!); // now and then a different step
    }
    assert.equal(range.top, 0, 'every block freed');
    assert.deepEqual(range.freeRanges(), []);
  });

  it('planOffsets keeps blocks that live at the same time apart, and clear of obstacles', () => {
    const blocks = [
      { bytes: 64, born: 1, died: 4 },
      { bytes: 128, born: 2, died: 6 },
      { bytes: 64, born: 5, died: 7 },
    ];
    const offsets = planOffsets(blocks, [[0, 32]]);
    assert.deepEqual(offsets, [160, 32, 160], 'the largest first, above the obstacle; the third reuses the first one\'s place');
  });

  it('allocAt takes a free range or the space above the top, and refuses anything in use', () => {
    const range = new RangeAllocator(1024);
    assert.ok(range.allocAt(128, 64), 'above the top: the gap becomes a free range');
    assert.deepEqual(range.freeRanges(), [{ offset: 0, bytes: 128 }]);
    assert.equal(range.top, 192);
    assert.ok(!range.allocAt(160, 64), 'overlaps a block in use');
    assert.ok(!range.allocAt(100, 64), 'runs past a free range into a block');
    assert.ok(range.allocAt(32, 32));
    assert.deepEqual(range.freeRanges(), [{ offset: 0, bytes: 32 }, { offset: 64, bytes: 64 }]);
    assert.deepEqual(range.usedRanges(), [[32, 64], [128, 192]]);
    assert.ok(!range.allocAt(1000, 64), 'past the limit');
  });
});

describe('SharedHeap (wasm tensor memory)', () => {
  it('grows its memory with the top, reuses freed space for other sizes, and names the backend and the way out when full', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const heap = new SharedHeap('wasm', memory, 100);
    const a = heap.alloc(16 * 1024); // 64 KiB: past the first page
    assert.equal(a.byteOffset, 128, 'above the base, 64-byte aligned');
    assert.ok(memory.buffer.byteLength >= 128 + 65536 + 64);
    heap.free(a);
    const b = heap.alloc(1000);
    const c = heap.alloc(1000);
    assert.equal(b.byteOffset, 128);
    assert.equal(c.byteOffset, 128 + 4032, 'the second block in what the first tensor freed');
    assert.throws(() => heap.alloc(100_000), /wasm backend: out of memory \(tensors need \d+ MiB.*at most 4 GiB.*native backend/);
  });
});

describe('ChunkedHeap (native tensor memory)', () => {
  it('with the native backend holding activations, small blocks and long-lived state, the process can still start a child', { skip: !availableBackends().includes('native') }, () => {
    // The system charges each reserved span to the process: with two chunks the size of memory
    // (activations, and small or long-lived blocks) spawn failed with ENOMEM after a training step.
    const previous = getBackend().name;
    setBackend('native');
    try {
      const heap = getAllocator();
      const blocks = [heap.alloc(2 ** 20), heap.alloc(16), heap.alloc(2 ** 20, true)];
      const child = spawnSync(process.execPath, ['-e', '0']);
      for (const b of blocks) heap.free(b);
      assert.equal(child.error?.message ?? null, null);
      assert.equal(child.status, 0);
    } finally {
      setBackend(previous);
    }
  });

  it('reuses freed memory for other sizes and adds a chunk only when none has room', () => {
    const heap = new ChunkedHeap('test', 4096);
    const a = heap.alloc(256); // 1024 B
    const b = heap.alloc(256);
    assert.equal(a.buffer, b.buffer);
    assert.equal(b.byteOffset, 1024);
    heap.free(a);
    const c = heap.alloc(128); // into a's place
    assert.equal(c.buffer, a.buffer);
    assert.equal(c.byteOffset, 0);
    assert.equal(heap.stats().chunks, 1);
    const d = heap.alloc(1000); // 4000 B: does not fit the first chunk's 2048 B left
    assert.notEqual(d.buffer, a.buffer);
    assert.equal(heap.stats().chunks, 2);
    const huge = heap.alloc(5000); // larger than a chunk: a chunk of its own size
    assert.equal(huge.length, 5000);
    assert.equal(heap.stats().chunks, 3);
    for (const x of [b, c, d, huge]) heap.free(x);
    assert.equal(heap.stats().liveBlocks, 0);
    assert.equal(heap.alloc(256).byteOffset, 0, 'everything merged back');
  });

  it('keeps blocks under 1 MiB apart from larger ones, so small ones do not pin holes between activations', () => {
    const heap = new ChunkedHeap('test', 8 * 2 ** 20);
    const small = heap.alloc(1000);
    const large = heap.alloc(2 ** 18); // exactly 1 MiB
    const small2 = heap.alloc(1000);
    assert.notEqual(large.buffer, small.buffer);
    assert.equal(small2.buffer, small.buffer);
    assert.equal(small2.byteOffset, 4032, 'right after the first small block');
    assert.equal(large.byteOffset, 0);
    heap.free(large);
    heap.free(small);
    heap.free(small2);
    assert.equal(heap.stats().liveBlocks, 0);
  });

  it('keeps long-lived blocks apart, plans training steps, and gives pages back only in the unplanned first step', () => {
    const released: number[] = [];
    const MiB = 2 ** 18; // floats
    const heap = new ChunkedHeap('test', 64 * 2 ** 20, (view) => released.push(view.length));
    const weights = heap.alloc(MiB);
    const step = (): void => {
      const a = heap.alloc(MiB);
      const b = heap.alloc(MiB);
      heap.free(a);
      const c = heap.alloc(2 * MiB); // first fit: above b, a's hole is too small
      heap.free(b);
      heap.free(c);
    };
    heap.beginStep();
    step();
    const state = heap.alloc(MiB, true); // created in the first step, kept for good (an optimizer's moments)
    assert.notEqual(state.buffer, weights.buffer, 'long-lived: not among the activations');
    assert.deepEqual(released, [MiB, MiB, 2 * MiB], 'the unplanned step gives its freed pages back');
    for (let i = 0; i < 3; i++) {
      heap.beginStep();
      step();
    }
    assert.equal(released.length, 3, 'planned steps keep their pages');
    heap.free(weights);
    heap.free(state);
    assert.equal(heap.stats().liveBlocks, 0);
  });
});
