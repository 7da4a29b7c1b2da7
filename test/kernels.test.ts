/**
 * Every fast backend's kernels against the js reference on the same inputs: GEMM on random
 * shapes (odd sizes, 1×1, depths that are not a multiple of the tile, every transpose, alpha
 * and beta, batches, sizes large enough to use every thread), and the other kernels.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createJsBackend, getBackend, setBackend, setThreads, type Backend } from '../src/kernels/index.js';
import type { ConvGeometry, GemmParams, UnaryOp } from '../src/kernels/index.js';
import { availableBackends } from '../src/index.js';
import { assertClose, randomValues, testRandom } from './helpers.js';
import { BufferPool } from '../src/kernels/heap.js';

const reference = createJsBackend();

/** Copies values into arrays owned by `backend` (so a wasm backend works in place). */
function on(backend: Backend, values: Float32Array): Float32Array {
  const a = backend.allocator.alloc(values.length);
  a.set(values);
  return a;
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
      assertClose(op2, ep2, { rtol: 1e-6, atol: 1e-9 }, 'adam param');
      assertClose(om, em, { rtol: 1e-6, atol: 0 }, 'adam m');
      assertClose(ov, ev, { rtol: 1e-6, atol: 0 }, 'adam v');
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

describe('BufferPool (native tensor memory)', () => {
  it('reuses a free buffer of the same size, else the smallest one up to 2× as large, never a larger one', () => {
    const pool = new BufferPool('test');
    const big = pool.alloc(1000);
    const bigger = pool.alloc(1400);
    pool.free(bigger);
    pool.free(big);
    const held = pool.stats().heapBytes;
    const a = pool.alloc(900); // 3648 B: the 4032 B buffer (1.1×) is the smallest that fits, not the 5632 B one
    assert.equal(a.buffer, big.buffer);
    assert.equal(a.length, 900);
    const b = pool.alloc(1300); // the 5632 B buffer is 1.08× as large
    assert.equal(b.buffer, bigger.buffer);
    assert.equal(pool.stats().heapBytes, held, 'nothing new allocated');
    pool.free(a);
    const c = pool.alloc(400); // 1600 B: the free 4032 B buffer is 2.5× as large, too wasteful
    assert.notEqual(c.buffer, big.buffer);
    assert.ok(pool.stats().heapBytes > held);
    pool.free(b);
    const d = pool.alloc(1400); // its own size class is back
    assert.equal(d.buffer, bigger.buffer);
    assert.equal(d.length, 1400);
  });
});
