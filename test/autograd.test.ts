import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { add, functional, getBackend, memory, mseLoss, mul, nn, noGrad, optim, randn, sum, tensor, tidy, Generator, Tensor } from '../src/index.js';
import { forEachBackend } from './helpers.js';

describe('autograd', () => {
  it('accumulates leaf gradients across backward calls until cleared', () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    sum(mul(x, x)).backward();
    assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
    sum(mul(x, 3)).backward();
    assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
  });

  it('sums the gradients of a tensor used along several paths (diamond)', () => {
    const x = tensor([0.5, -1.5], [2], { requiresGrad: true });
    const a = mul(x, 2);
    const b = mul(a, a); // 4x²
    const c = add(b, a); // 4x² + 2x
    sum(add(c, mul(a, x))).backward(); // + 2x² → d/dx = 12x + 2
    assert.deepEqual(x.grad!.toArray(), [8, -16]);
  });

  it('stores no gradient on intermediate tensors and none through detach or noGrad', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = mul(x, 2);
    const z = mul(y.detach(), x);
    sum(z).backward();
    assert.equal(y.grad, null);
    assert.deepEqual(x.grad!.toArray(), [2, 4], 'only the non-detached path contributes');
    const w = noGrad(() => mul(x, 5));
    assert.equal(w.requiresGrad, false);
    assert.equal(w.gradFn, null);
  });

  it('frees the graph after backward unless asked to retain it', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = sum(mul(x, x));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [4, 8]);
    assert.throws(() => y.backward(), /second time/);
  });

  it('takes an explicit gradient for non-scalar outputs', () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    mul(x, x).backward(tensor([1, 0, -1]));
    assert.deepEqual(x.grad!.toArray(), [2, 0, -6]);
    assert.throws(() => mul(x, x).backward(tensor([1, 2])), /does not match/);
  });

  it('a leaf takes the gradient backward made as its .grad without a copy, but never one anything else holds', () => {
    // add's backward hands one tensor (made by mul's backward) to both inputs: one leaf copies it, the other takes it.
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const b = tensor([3, 4], [2], { requiresGrad: true });
    mul(add(a, b), 1).backward(tensor([5, 6]));
    assert.deepEqual([a.grad!.toArray(), b.grad!.toArray()], [[5, 6], [5, 6]]);
    a.grad!.data[0] = 100;
    assert.equal(b.grad!.data[0], 5, 'the two .grad tensors do not share memory');
    mul(add(a, b), 1).backward(tensor([1, 1]));
    assert.deepEqual([a.grad!.toArray(), b.grad!.toArray()], [[101, 7], [6, 7]]);
    // The caller's gradient, seen through a view, stays the caller's.
    const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const dy = tensor([1, 2, 3, 4], [4]);
    x.view([4]).backward(dy);
    dy.data[0] = -9;
    assert.deepEqual(x.grad!.toArray(), [1, 2, 3, 4]);
    // backward() on a leaf: its implicit seed of 1 is not kept as .grad (backward disposes it).
    const leaf = tensor([7], [1], { requiresGrad: true });
    leaf.backward();
    assert.deepEqual(leaf.grad!.toArray(), [1]);
    leaf.backward();
    assert.deepEqual(leaf.grad!.toArray(), [2]);
  });

  it('releases intermediate gradients as soon as backward has used them', () => {
    const x = tensor(new Float32Array(1000).fill(0.5), [10, 100], { requiresGrad: true });
    const loss = sum(mul(add(mul(x, x), x), x));
    const before = memory().numTensors;
    loss.backward();
    assert.equal(memory().numTensors, before + 1, 'only x.grad is new');
  });
});

forEachBackend((backend) => {
  describe(`memory over a long training run on the ${backend} backend`, () => {
    it('stays flat over 2000 steps of a small conv net with Adam', () => {
      const g = new Generator(3);
      const net = new nn.Sequential(
        new nn.Conv2d(1, 4, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(4), new nn.LeakyReLU(0.2),
        new nn.ConvTranspose2d(4, 1, 4, { stride: 2, padding: 1 }), new nn.Tanh(),
      );
      const opt = new optim.Adam(net.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
      const x = randn([2, 1, 6, 6], { generator: g });
      const target = randn([2, 1, 12, 12], { generator: g });
      const step = (): number =>
        tidy(() => {
          opt.zeroGrad();
          const loss = mseLoss(net.forward(x), target);
          loss.backward();
          opt.step();
          return loss.item();
        });
      const heapBytes = (): number | undefined => (getBackend() as { heap?: { stats(): { heapBytes: number } } }).heap?.stats().heapBytes;
      for (let i = 0; i < 10; i++) step();
      const settled = memory();
      const settledHeap = heapBytes();
      let last = 0;
      for (let i = 0; i < 2000; i++) last = step();
      const after = memory();
      assert.ok(Number.isFinite(last));
      assert.equal(after.numTensors, settled.numTensors, 'tensor count');
      assert.equal(after.numBytes, settled.numBytes, 'bytes');
      assert.equal(after.numStorages, settled.numStorages, 'storages');
      assert.equal(heapBytes(), settledHeap, 'the backend heap (wasm memory) does not grow');
      assert.ok(net.parameters().every((p) => p instanceof Tensor && !p.isDisposed), 'parameters survive every scope');
    });
  });
});

describe('conv2d keeps its im2col columns for the weight gradient', () => {
  forEachBackend(() => {
    const setup = (): { x: Tensor; w: Tensor } => {
      const g = new Generator(11);
      return { x: randn([2, 3, 7, 7], { generator: g }), w: randn([4, 3, 3, 3], { generator: g, requiresGrad: true }) };
    };
    const convLoss = (x: Tensor, w: Tensor): Tensor => sum(mul(functional.conv2d(x, w, null, { stride: 2, padding: 1 }), functional.conv2d(x, w, null, { stride: 2, padding: 1 })));

    // The first backward releases the kept columns; the second recomputes them.
    it('a second backward with retainGraph (columns recomputed) accumulates the same gradient again', () => {
      const a = setup();
      const loss = convLoss(a.x, a.w);
      loss.backward(undefined, { retainGraph: true });
      const first = Array.from(a.w.grad!.data);
      loss.backward();
      const second = Array.from(a.w.grad!.data);
      second.forEach((v, i) => assert.ok(Math.abs(v - 2 * first[i]!) <= 1e-5 * Math.abs(v) + 1e-6, `index ${i}: ${v} vs 2·${first[i]}`));
    });

    it('releases the columns after backward (no memory left behind)', () => {
      const { x, w } = setup();
      const before = memory().numStorages;
      tidy(() => {
        convLoss(x, w).backward();
      });
      w.grad!.dispose();
      w.grad = null;
      assert.equal(memory().numStorages, before);
    });
  });
});

describe('autograd invariants', () => {
  it('an op that returns a gradient count other than its input count is an error naming the op', async () => {
    const { record } = await import('../src/autograd/record.js');
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = tensor([3, 4], [2], { requiresGrad: true });
    const out = record(tensor([0, 0], [2]), 'brokenOp', [x, y], (g) => [g]);
    assert.throws(() => sum(out).backward(), /backward: brokenOp returned 1 gradients for its 2 inputs/);
  });

  it('tidy refuses an async function and frees what it made before its first await', async () => {
    const before = memory().numTensors;
    let made: Tensor | null = null;
    assert.throws(
      () =>
        tidy((async () => {
          made = randn([4]);
          await Promise.resolve();
        }) as unknown as () => number),
      /tidy: the function must be synchronous \(it returned a Promise\)/,
    );
    assert.ok(made !== null && (made as Tensor).isDisposed, 'the tensor made inside was disposed');
    assert.equal(memory().numTensors, before);
  });
});
