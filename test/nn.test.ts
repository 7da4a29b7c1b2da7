/**
 * Module semantics as PyTorch has them: child naming, state-dict keys and order, parameter
 * layouts, default initialisation, train/eval, BatchNorm's running statistics, loading
 * state, initialisers, optimizer checkpoints, and a small network that actually learns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Generator,
  functional as F,
  manualSeed,
  defaultGenerator,
  memory,
  resetPeakMemory,
  backward,
  nn,
  optim,
  tensor,
  tidy,
  noGrad,
  zeros,
  type Tensor,
} from '../src/index.js';
import { randomValues } from './helpers.js';
import { getAllocator, setAllocator } from '../src/tensor/memory.js';

/** A module with a `main` Sequential child, as pytorch/examples' DCGAN Generator is written. */
class TinyGenerator extends nn.Module {
  readonly main: nn.Sequential;

  constructor(nz: number, ngf: number, channels: number) {
    super();
    this.main = this.registerModule(
      'main',
      new nn.Sequential(
        new nn.ConvTranspose2d(nz, ngf, 4, { stride: 1, padding: 0, bias: false }),
        new nn.BatchNorm2d(ngf),
        new nn.ReLU(),
        new nn.ConvTranspose2d(ngf, channels, 4, { stride: 2, padding: 1, bias: false }),
        new nn.Tanh(),
      ),
    );
  }

  forward(z: Tensor): Tensor {
    return this.main.forward(z);
  }
}

function shapeOf(t: Tensor): number[] {
  return [...t.shape];
}

/** Float64 per-channel mean and unbiased variance of an NCHW array. */
function channelStats(data: ArrayLike<number>, n: number, c: number, hw: number): { mean: number[]; unbiasedVar: number[] } {
  const mean: number[] = [];
  const unbiasedVar: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) s += data[(i * c + ch) * hw + j]!;
    const m = s / (n * hw);
    let v = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < hw; j++) v += (data[(i * c + ch) * hw + j]! - m) ** 2;
    mean.push(m);
    unbiasedVar.push(v / (n * hw - 1));
  }
  return { mean, unbiasedVar };
}

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('naming and state dicts', () => {
  test('Sequential names its children "0", "1", … and orders stateDict keys as PyTorch', () => {
    const seq = new nn.Sequential(new nn.ConvTranspose2d(100, 64, 4, { bias: false }), new nn.BatchNorm2d(64), new nn.ReLU());
    assert.deepEqual([...seq.namedChildren()].map(([name]) => name), ['0', '1', '2']);
    assert.deepEqual(Object.keys(seq.stateDict()), ['0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    assert.deepEqual([...seq.namedParameters()].map(([name]) => name), ['0.weight', '1.weight', '1.bias']);
    assert.deepEqual([...seq.namedBuffers()].map(([name]) => name), ['1.running_mean', '1.running_var', '1.num_batches_tracked']);
    assert.equal(seq.parameters().length, 3);
    // BatchNorm2d's buffers have PyTorch's shapes: per-channel vectors and a scalar counter.
    const sd = seq.stateDict();
    assert.deepEqual(shapeOf(sd['1.running_mean']!), [64]);
    assert.deepEqual(shapeOf(sd['1.running_var']!), [64]);
    assert.deepEqual(shapeOf(sd['1.num_batches_tracked']!), []);
    assert.deepEqual(sd['1.running_var']!.toArray(), new Array(64).fill(1));
    assert.deepEqual(sd['1.running_mean']!.toArray(), new Array(64).fill(0));
    assert.equal(sd['1.num_batches_tracked']!.item(), 0);
  });

  test('a module holding a `main` Sequential gets main.0.weight, … (pytorch/examples names)', () => {
    const g = new TinyGenerator(8, 6, 3);
    assert.deepEqual(Object.keys(g.stateDict()), [
      'main.0.weight',
      'main.1.weight',
      'main.1.bias',
      'main.1.running_mean',
      'main.1.running_var',
      'main.1.num_batches_tracked',
      'main.3.weight',
    ]);
    assert.deepEqual([...g.namedModules()].map(([name]) => name), ['', 'main', 'main.0', 'main.1', 'main.2', 'main.3', 'main.4']);
    // The state dict holds the very tensors the layers use (as PyTorch's shares storage).
    assert.equal(g.stateDict()['main.0.weight'], (g.main.layers[0] as nn.ConvTranspose2d).weight);
    const y = g.eval().forward(zeros([2, 8, 1, 1]));
    assert.deepEqual(shapeOf(y), [2, 3, 8, 8]);
  });

  test('parameter layouts: ConvTranspose2d [in, out, k, k], Conv2d [out, in, k, k], Linear [out, in]', () => {
    const ct = new nn.ConvTranspose2d(100, 64, 4);
    assert.deepEqual(shapeOf(ct.weight), [100, 64, 4, 4]);
    assert.deepEqual(shapeOf(ct.bias!), [64]);
    const c = new nn.Conv2d(3, 64, 4);
    assert.deepEqual(shapeOf(c.weight), [64, 3, 4, 4]);
    assert.deepEqual(shapeOf(c.bias!), [64]);
    const rect = new nn.Conv2d(2, 5, [3, 1]);
    assert.deepEqual(shapeOf(rect.weight), [5, 2, 3, 1]);
    const lin = new nn.Linear(10, 7);
    assert.deepEqual(shapeOf(lin.weight), [7, 10]);
    assert.deepEqual(shapeOf(lin.bias!), [7]);
    assert.equal(new nn.Conv2d(3, 8, 3, { bias: false }).bias, null);
    assert.deepEqual(Object.keys(new nn.Conv2d(3, 8, 3, { bias: false }).stateDict()), ['weight']);
    for (const p of [ct.weight, ct.bias!, c.weight, lin.weight]) assert.equal(p.requiresGrad, true);
  });

  test('BatchNorm2d without affine or running stats has no such entries', () => {
    assert.deepEqual(Object.keys(new nn.BatchNorm2d(4, { affine: false }).stateDict()), ['running_mean', 'running_var', 'num_batches_tracked']);
    assert.deepEqual(Object.keys(new nn.BatchNorm2d(4, { trackRunningStats: false }).stateDict()), ['weight', 'bias']);
  });
});

describe('default initialisation', () => {
  // PyTorch: kaiming_uniform_(a=√5) gives U(±gain·√(3/fanIn)) with gain = √(2/(1+5)), i.e. U(±1/√fanIn),
  // and the bias U(±1/√fanIn); fanIn = weight.shape[1]·kH·kW (for ConvTranspose2d that is out·k·k).
  const cases: Array<[string, () => { weight: Tensor; bias: Tensor | null }, number]> = [
    ['Conv2d(3, 64, 4)', () => new nn.Conv2d(3, 64, 4), 3 * 16],
    ['Conv2d(16, 8, 3)', () => new nn.Conv2d(16, 8, 3), 16 * 9],
    ['ConvTranspose2d(100, 64, 4)', () => new nn.ConvTranspose2d(100, 64, 4), 64 * 16],
    ['ConvTranspose2d(8, 3, 4)', () => new nn.ConvTranspose2d(8, 3, 4), 3 * 16],
    ['Linear(50, 20)', () => new nn.Linear(50, 20), 50],
  ];
  for (const [name, make, fanIn] of cases) {
    test(`${name}: weights and bias lie in ±1/√${fanIn} and fill that range`, () => {
      const { weight, bias } = make();
      const bound = 1 / Math.sqrt(fanIn);
      const w = weight.data;
      let maxAbs = 0;
      let sum = 0;
      for (const v of w) {
        assert.ok(Math.abs(v) <= bound * (1 + 1e-6), `weight ${v} outside ±${bound}`);
        maxAbs = Math.max(maxAbs, Math.abs(v));
        sum += v;
      }
      // Uniform on ±bound: the largest of n draws is close to the bound, the mean close to 0.
      assert.ok(maxAbs > bound * (1 - 10 / w.length) - 1e-9, `largest |w| ${maxAbs} is far below the bound ${bound}: wrong fan-in?`);
      const meanTol = 5 * (bound / Math.sqrt(3)) / Math.sqrt(w.length);
      assert.ok(Math.abs(sum / w.length) < meanTol, `weight mean ${sum / w.length}`);
      if (bias !== null) {
        for (const v of bias.data) assert.ok(Math.abs(v) <= bound * (1 + 1e-6), `bias ${v} outside ±${bound}`);
        assert.ok(new Set(bias.data).size > 1, 'bias is not constant');
      }
    });
  }

  test('BatchNorm2d starts with weight 1, bias 0', () => {
    const bn = new nn.BatchNorm2d(5);
    assert.deepEqual(bn.weight!.toArray(), [1, 1, 1, 1, 1]);
    assert.deepEqual(bn.bias!.toArray(), [0, 0, 0, 0, 0]);
  });

  test('construction is reproducible under manualSeed', () => {
    manualSeed(123);
    const a = new nn.Conv2d(3, 4, 3).weight.toArray();
    manualSeed(123);
    const b = new nn.Conv2d(3, 4, 3).weight.toArray();
    const c = new nn.Conv2d(3, 4, 3).weight.toArray();
    assert.deepEqual(a, b);
    assert.notDeepEqual(b, c);
  });
});

describe('train / eval', () => {
  test('train() and eval() reach every descendant', () => {
    const g = new TinyGenerator(4, 3, 1);
    const all = (): boolean[] => [...g.namedModules()].map(([, m]) => m.training);
    assert.ok(all().every((t) => t));
    assert.equal(g.eval(), g);
    assert.ok(all().every((t) => !t));
    g.train();
    assert.ok(all().every((t) => t));
    g.train(false);
    assert.ok(all().every((t) => !t));
    // Setting a child's mode leaves the parent alone.
    g.train();
    g.main.eval();
    assert.equal(g.training, true);
    assert.ok([...g.main.namedModules()].every(([, m]) => !m.training));
  });
});

describe('BatchNorm2d running statistics', () => {
  const n = 4;
  const c = 3;
  const hw = 5 * 5;
  const batch = (seed: number, shift: number): Tensor => {
    const values = randomValues(n * c * hw, seed, 2);
    for (let i = 0; i < values.length; i++) values[i]! += shift * (1 + Math.floor(i / hw) % c);
    return tensor(values, [n, c, 5, 5]);
  };

  test('training updates running stats with momentum 0.1 (unbiased variance) and counts batches', () => {
    const bn = new nn.BatchNorm2d(c);
    const x = batch(1, 0.5);
    const { mean, unbiasedVar } = channelStats(x.data, n, c, hw);
    bn.forward(x);
    assert.equal(bn.numBatchesTracked!.item(), 1);
    assertAllClose(bn.runningMean!.data, mean.map((m) => 0.1 * m), 1e-5, 'running_mean');
    assertAllClose(bn.runningVar!.data, unbiasedVar.map((v) => 0.9 + 0.1 * v), 1e-5, 'running_var');
    bn.forward(batch(2, -1));
    assert.equal(bn.numBatchesTracked!.item(), 2);
  });

  test('eval mode leaves running stats and the batch counter alone, and normalises with the running stats', () => {
    const bn = new nn.BatchNorm2d(c);
    bn.forward(batch(3, 1));
    bn.forward(batch(4, 2));
    const meanBefore = bn.runningMean!.toArray();
    const varBefore = bn.runningVar!.toArray();
    bn.eval();
    const x = batch(5, 3);
    const y = bn.forward(x);
    assert.deepEqual(bn.runningMean!.toArray(), meanBefore);
    assert.deepEqual(bn.runningVar!.toArray(), varBefore);
    assert.equal(bn.numBatchesTracked!.item(), 2);
    // y = (x − running_mean) / √(running_var + eps) with weight 1, bias 0.
    const expected = Array.from(x.data, (v, i) => {
      const ch = Math.floor(i / hw) % c;
      return (v - meanBefore[ch]!) / Math.sqrt(varBefore[ch]! + 1e-5);
    });
    assertAllClose(y.data, expected, 1e-5, 'eval output');
    // Back in training mode the statistics move again.
    bn.train();
    bn.forward(x);
    assert.notDeepEqual(bn.runningMean!.toArray(), meanBefore);
    assert.equal(bn.numBatchesTracked!.item(), 3);
  });

  test('momentum null gives a cumulative average: after two batches, the mean of the two batch means', () => {
    const bn = new nn.BatchNorm2d(c, { momentum: null });
    const x1 = batch(6, 1);
    const x2 = batch(7, -2);
    const s1 = channelStats(x1.data, n, c, hw);
    const s2 = channelStats(x2.data, n, c, hw);
    bn.forward(x1);
    // First batch: momentum 1/1, so the running stats are exactly that batch's.
    assertAllClose(bn.runningMean!.data, s1.mean, 1e-5, 'running_mean after 1');
    assertAllClose(bn.runningVar!.data, s1.unbiasedVar, 1e-5, 'running_var after 1');
    bn.forward(x2);
    assertAllClose(bn.runningMean!.data, s1.mean.map((m, i) => (m + s2.mean[i]!) / 2), 1e-5, 'running_mean after 2');
    assertAllClose(bn.runningVar!.data, s1.unbiasedVar.map((v, i) => (v + s2.unbiasedVar[i]!) / 2), 1e-5, 'running_var after 2');
    assert.equal(bn.numBatchesTracked!.item(), 2);
  });

  test(
    'an input rejected for its rank does not count as a batch (PyTorch checks the rank before counting)',
    () => {
      const bn = new nn.BatchNorm2d(c, { momentum: null });
      assert.throws(() => bn.forward(zeros([4, c])), /batchNorm2d/);
      assert.equal(bn.numBatchesTracked!.item(), 0);
      // With momentum null the count is the averaging weight: a phantom batch would skew the first real one.
      const x = batch(9, 1);
      bn.forward(x);
      assertAllClose(bn.runningMean!.data, channelStats(x.data, n, c, hw).mean, 1e-5, 'running_mean');
    },
  );

  test('training output has per-channel mean 0 and (biased) variance 1', () => {
    const bn = new nn.BatchNorm2d(c);
    const y = bn.forward(batch(8, 4));
    const { mean, unbiasedVar } = channelStats(y.data, n, c, hw);
    const count = n * hw;
    assertAllClose(mean, [0, 0, 0], 1e-5, 'mean');
    // Biased variance of the output is v/(v + eps) ≈ 1.
    assertAllClose(unbiasedVar.map((v) => (v * (count - 1)) / count), [1, 1, 1], 1e-3, 'variance');
  });

  test('recomputeBatchNormStatistics: the plain average over the given batches, from scratch, with modes and momenta restored', () => {
    const net = new nn.Sequential(new nn.BatchNorm2d(c), new nn.ReLU(), new nn.BatchNorm2d(c, { momentum: 0.3 }));
    net.forward(batch(20, 4)); // stale statistics that must not survive
    net.eval();
    const first = net.layers[0] as nn.BatchNorm2d;
    const inputs = [batch(21, 1), batch(22, -2), batch(23, 0.5)];
    nn.recomputeBatchNormStatistics(net, inputs.length, (i) => tidy(() => void net.forward(inputs[i]!)));
    const stats = inputs.map((x) => channelStats(x.data, n, c, hw));
    const meanOf = (pick: (s: (typeof stats)[number]) => number[]): number[] => Array.from({ length: c }, (_, ch) => stats.reduce((sum, s) => sum + pick(s)[ch]!, 0) / stats.length);
    assertAllClose(first.runningMean!.data, meanOf((s) => s.mean), 1e-5, 'running_mean');
    assertAllClose(first.runningVar!.data, meanOf((s) => s.unbiasedVar), 1e-5, 'running_var');
    assert.equal(first.numBatchesTracked!.item(), 3);
    assert.equal(net.training, false, 'eval mode restored');
    assert.equal(first.training, false);
    assert.equal(first.momentum, 0.1);
    assert.equal((net.layers[2] as nn.BatchNorm2d).momentum, 0.3);
  });
});

describe('loadStateDict', () => {
  test('copies every value, and the copies are independent of the source', () => {
    manualSeed(1);
    const source = new TinyGenerator(4, 3, 2);
    source.train().forward(tensor(randomValues(2 * 4, 11), [2, 4, 1, 1])); // move the BN buffers off their defaults
    manualSeed(2);
    const target = new TinyGenerator(4, 3, 2);
    const keys = Object.keys(source.stateDict());
    assert.ok(keys.some((k) => source.stateDict()[k]!.toArray().join() !== target.stateDict()[k]!.toArray().join()));

    const result = target.loadStateDict(source.stateDict());
    assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
    const snapshot: Record<string, number[]> = {};
    for (const k of keys) {
      assert.deepEqual(target.stateDict()[k]!.toArray(), source.stateDict()[k]!.toArray(), k);
      assert.notEqual(target.stateDict()[k], source.stateDict()[k], `${k} must be a copy, not the same tensor`);
      snapshot[k] = target.stateDict()[k]!.toArray();
    }
    assert.equal(target.stateDict()['main.1.num_batches_tracked']!.item(), 1);

    // Changing the source afterwards does not reach the target, and vice versa.
    for (const k of keys) source.stateDict()[k]!.data.fill(42);
    for (const k of keys) assert.deepEqual(target.stateDict()[k]!.toArray(), snapshot[k], k);
    target.stateDict()['main.0.weight']!.data.fill(-1);
    assert.ok(source.stateDict()['main.0.weight']!.toArray().every((v) => v === 42));
    // The parameters are still parameters afterwards.
    assert.ok(target.parameters().every((p) => p.requiresGrad));
  });

  test('a plain record of tensors built by hand loads too', () => {
    const layer = new nn.Linear(2, 2);
    layer.loadStateDict({ weight: tensor([1, 2, 3, 4], [2, 2]), bias: tensor([0.5, -0.5]) });
    const y = layer.forward(tensor([1, 1], [1, 2]));
    // [1, 1]·Wᵀ + b = [1 + 2 + 0.5, 3 + 4 − 0.5]
    assert.deepEqual(y.toArray(), [3.5, 6.5]);
  });
});

describe('gradients', () => {
  test('zeroGrad clears the gradient of every parameter', () => {
    const net = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU());
    const loss = net.forward(tensor(randomValues(2 * 16, 3), [2, 1, 4, 4])).sum();
    loss.backward();
    const params = net.parameters();
    assert.equal(params.length, 4);
    for (const p of params) assert.notEqual(p.grad, null);
    net.zeroGrad();
    for (const p of params) assert.equal(p.grad, null);
    // Gradients accumulate across backward passes until cleared, as in PyTorch.
    const x = tensor(randomValues(2 * 16, 4), [2, 1, 4, 4]);
    net.forward(x).sum().backward();
    const once = net.parameters()[0]!.grad!.toArray();
    net.forward(x).sum().backward();
    assertAllClose(net.parameters()[0]!.grad!.data, once.map((v) => 2 * v), 1e-5, 'accumulated grad');
    const opt = new optim.SGD(net.parameters(), { lr: 0.1 });
    opt.zeroGrad();
    for (const p of net.parameters()) assert.equal(p.grad, null);
  });
});

describe('freezing parameters', () => {
  test('requiresGrad_ and withFrozenParameters: backward skips frozen weights but still reaches the input; flags come back as they were', () => {
    const net = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.LeakyReLU(0.2));
    const [convWeight, convBias, bnWeight, bnBias] = net.parameters() as [Tensor, Tensor, Tensor, Tensor];
    bnBias.requiresGrad = false; // frozen by the caller before: must stay frozen afterwards
    const x = tensor(randomValues(2 * 16, 5), [2, 1, 4, 4]);
    x.requiresGrad = true;
    const inside = nn.withFrozenParameters(net, () => {
      assert.deepEqual(net.parameters().map((p) => p.requiresGrad), [false, false, false, false]);
      net.forward(x).sum().backward();
      return 'result';
    });
    assert.equal(inside, 'result');
    for (const p of net.parameters()) assert.equal(p.grad, null);
    assert.notEqual(x.grad, null, 'the input still gets its gradient through frozen layers');
    assert.deepEqual([convWeight, convBias, bnWeight, bnBias].map((p) => p.requiresGrad), [true, true, true, false]);
    assert.throws(() => nn.withFrozenParameters(net, () => { throw new Error('inside'); }), /inside/);
    assert.deepEqual(net.parameters().map((p) => p.requiresGrad), [true, true, true, false], 'restored after a throw');
    assert.equal(net.requiresGrad_(false), net);
    assert.ok(net.parameters().every((p) => !p.requiresGrad));
    net.requiresGrad_();
    assert.ok(net.parameters().every((p) => p.requiresGrad));
  });
});

describe('nn.init', () => {
  const count = 20000;
  function stats(data: ArrayLike<number>): { mean: number; std: number } {
    let s = 0;
    for (let i = 0; i < data.length; i++) s += data[i]!;
    const mean = s / data.length;
    let v = 0;
    for (let i = 0; i < data.length; i++) v += (data[i]! - mean) ** 2;
    return { mean, std: Math.sqrt(v / (data.length - 1)) };
  }

  for (const [mean, std] of [
    [0, 1],
    [0, 0.02],
    [1, 0.02],
    [-3, 2.5],
  ] as const) {
    test(`normal_(mean ${mean}, std ${std}) has sample mean and std within 4 standard errors`, () => {
      const t = nn.init.normal_(zeros([count]), mean, std, new Generator(7));
      const s = stats(t.data);
      const seMean = std / Math.sqrt(count);
      const seStd = std / Math.sqrt(2 * count);
      assert.ok(Math.abs(s.mean - mean) < 4 * seMean, `mean ${s.mean} vs ${mean} (se ${seMean})`);
      assert.ok(Math.abs(s.std - std) < 4 * seStd, `std ${s.std} vs ${std} (se ${seStd})`);
    });
  }

  test('normal_ looks normal: about 68.3% within one std and 95.4% within two', () => {
    const t = nn.init.normal_(zeros([count]), 0, 1, new Generator(99));
    let one = 0;
    let two = 0;
    for (const v of t.data) {
      if (Math.abs(v) < 1) one++;
      if (Math.abs(v) < 2) two++;
    }
    // Binomial standard errors: √(p(1−p)/n) ≈ 0.0033 and 0.0015.
    assert.ok(Math.abs(one / count - 0.6827) < 0.015, `within 1σ: ${one / count}`);
    assert.ok(Math.abs(two / count - 0.9545) < 0.007, `within 2σ: ${two / count}`);
  });

  test('normal_ is reproducible from a Generator seed and leaves the default generator alone', () => {
    const before = defaultGenerator.getState();
    const a = nn.init.normal_(zeros([100]), 0, 0.02, new Generator(5)).toArray();
    const b = nn.init.normal_(zeros([100]), 0, 0.02, new Generator(5)).toArray();
    const c = nn.init.normal_(zeros([100]), 0, 0.02, new Generator(6)).toArray();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.deepEqual(defaultGenerator.getState(), before);
    // One generator continues its stream: two halves equal one draw of the whole.
    const g = new Generator(5);
    const first = nn.init.normal_(zeros([50]), 0, 0.02, g).toArray();
    const second = nn.init.normal_(zeros([50]), 0, 0.02, g).toArray();
    assert.deepEqual([...first, ...second], a);
  });

  test('uniform_, constant_, zeros_ and ones_ fill as asked', () => {
    const u = nn.init.uniform_(zeros([count]), -0.5, 2, new Generator(3));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of u.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    assert.ok(lo >= -0.5 && hi < 2, `range [${lo}, ${hi}]`);
    assert.ok(lo < -0.45 && hi > 1.95, `range [${lo}, ${hi}] does not fill [-0.5, 2)`);
    assert.ok(Math.abs(stats(u.data).mean - 0.75) < 4 * (2.5 / Math.sqrt(12)) / Math.sqrt(count));
    assert.deepEqual(nn.init.constant_(zeros([3]), 0.25).toArray(), [0.25, 0.25, 0.25]);
    assert.deepEqual(nn.init.ones_(zeros([2])).toArray(), [1, 1]);
    assert.deepEqual(nn.init.zeros_(tensor([4, 5])).toArray(), [0, 0]);
  });
});

describe('optimizer state dicts', () => {
  /** Two parameters and a fixed quadratic-ish loss, so every step's gradient is deterministic. */
  function makeParams(): Tensor[] {
    return [tensor(randomValues(6, 21), [3, 2], { requiresGrad: true }), tensor(randomValues(4, 22), [4], { requiresGrad: true })];
  }
  const a = tensor(randomValues(6, 23), [3, 2]);
  const b = tensor(randomValues(4, 24), [4]);
  function step(opt: optim.Optimizer, params: Tensor[]): void {
    tidy(() => {
      opt.zeroGrad();
      const [p, q] = params as [Tensor, Tensor];
      const loss = p.mul(a).sub(0.3).square().sum().add(q.sub(b).pow(4).sum()).add(p.sum().mul(q.sum()));
      loss.backward();
      opt.step();
    });
  }
  function cloneParams(params: Tensor[]): Tensor[] {
    return params.map((p) => tensor(p.toFloat32Array(), p.shape, { requiresGrad: true }));
  }
  const optimizers: Array<[string, (params: Tensor[]) => optim.Optimizer, (params: Tensor[]) => optim.Optimizer]> = [
    ['Adam', (ps) => new optim.Adam(ps, { lr: 0.01, betas: [0.5, 0.999], weightDecay: 0.01 }), (ps) => new optim.Adam(ps)],
    ['SGD', (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true }), (ps) => new optim.SGD(ps, { lr: 0.5 })],
  ];

  test('optimizer state is allocated as long-lived (the native heap keeps it apart from activations)', () => {
    const previous = getAllocator();
    const lengths: number[] = [];
    setAllocator({ name: 'counting', alloc: (length, longLived) => (longLived === true && lengths.push(length), new Float32Array(length)), free: () => {} });
    try {
      for (const [, make] of optimizers) {
        const params = makeParams();
        step(make(params), params);
      }
    } finally {
      setAllocator(previous);
    }
    assert.deepEqual(lengths, [6, 6, 4, 4, 6, 4], "Adam's two moments per parameter, SGD's momentum buffer");
  });

  for (const [name, make, makeFresh] of optimizers) {
    test(`${name}: loading a state dict into a fresh optimizer over cloned params continues identically`, () => {
      const paramsA = makeParams();
      const optA = make(paramsA);
      for (let i = 0; i < 3; i++) step(optA, paramsA);
      // Load right away, before A moves on, so this holds whether or not stateDict() copies.
      const paramsB = cloneParams(paramsA);
      const optB = makeFresh(paramsB); // other hyperparameters: loading must restore A's
      optB.loadStateDict(optA.stateDict());
      for (let i = 0; i < 2; i++) {
        step(optA, paramsA);
        step(optB, paramsB);
      }
      paramsA.forEach((p, i) => assert.deepEqual(Array.from(paramsB[i]!.data), Array.from(p.data), `param ${i}`));
      // And the continuation differs from restarting with fresh state, so the test has teeth.
      const paramsC = cloneParams(makeParams());
      const optC = make(paramsC);
      for (let i = 0; i < 3; i++) step(optC, paramsC);
      const restarted = make(cloneParams(paramsC));
      const paramsD = restarted.params as Tensor[];
      for (let i = 0; i < 2; i++) {
        step(optC, paramsC);
        step(restarted, paramsD);
      }
      assert.notDeepEqual(Array.from(paramsD[0]!.data), Array.from(paramsC[0]!.data));
    });

    test(`${name}: stateDict() is a snapshot: save after 3 steps, 2 more on A, load into B, same 2 on B → bitwise equal`, () => {
      const paramsA = makeParams();
      const optA = make(paramsA);
      for (let i = 0; i < 3; i++) step(optA, paramsA);
      const saved = optA.stateDict();
      const paramsB = cloneParams(paramsA);
      for (let i = 0; i < 2; i++) step(optA, paramsA);
      const optB = makeFresh(paramsB);
      optB.loadStateDict(saved);
      for (let i = 0; i < 2; i++) step(optB, paramsB);
      paramsA.forEach((p, i) => assert.deepEqual(Array.from(paramsB[i]!.data), Array.from(p.data), `param ${i}`));
    });
  }

  test('Adam: a state dict from another parameter list is rejected', () => {
    const optA = new optim.Adam(makeParams());
    const other = new optim.Adam([tensor([1, 2], [2], { requiresGrad: true })]);
    assert.throws(() => other.loadStateDict(optA.stateDict()), /loadStateDict.*2 parameters.*1/);
  });
});

describe('a tiny conv net learns (the README example)', () => {
  test('Conv2d → BatchNorm2d → LeakyReLU → Conv2d → flatten → mean, 20 Adam steps reduce the MSE', () => {
    manualSeed(2024);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 8, 3, { padding: 1 }),
      new nn.BatchNorm2d(8),
      new nn.LeakyReLU(0.2),
      new nn.Conv2d(8, 4, 4, { stride: 2, padding: 1 }),
      new nn.Flatten(),
    );
    const batchSize = 8;
    const x = tensor(randomValues(batchSize * 8 * 8, 31), [batchSize, 1, 8, 8]);
    const target = tensor(randomValues(batchSize, 32, 0.5), [batchSize]);
    const opt = new optim.Adam(net.parameters(), { lr: 0.01 });
    const before = net.parameters().map((p) => p.toArray());

    const losses: number[] = [];
    const liveTensors: number[] = [];
    for (let i = 0; i < 20; i++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const features = net.forward(x); // [N, 4·4·4]
        assert.deepEqual(shapeOf(features), [batchSize, 64]);
        const loss = F.mseLoss(features.mean(1), target);
        loss.backward();
        opt.step();
        return loss.item();
      });
      losses.push(loss);
      liveTensors.push(memory().numTensors);
    }
    const final = tidy(() => F.mseLoss(net.forward(x).mean(1), target).item());
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(final < 0.5 * losses[0]!, `loss went from ${losses[0]} to ${final} (${losses.map((l) => l.toFixed(4)).join(', ')})`);
    // Every parameter was trained, the first layer's included (gradients flowed through BatchNorm).
    net.parameters().forEach((p, i) => assert.notDeepEqual(p.toArray(), before[i], `parameter ${i} did not change`));
    // tidy() frees each step's temporaries: the live tensor count stops growing once Adam's state exists.
    assert.equal(liveTensors[19], liveTensors[1], `live tensors per step: ${liveTensors.join(', ')}`);
  });
});

describe('Sequential fuses Conv2d → LeakyReLU (D\'s first block)', () => {
  test('the same outputs and gradients as the layers one by one, with less memory', () => {
    const x = tensor(randomValues(4 * 3 * 8 * 8, 12, 1), [4, 3, 8, 8], { requiresGrad: true });
    const make = (): nn.Sequential => new nn.Sequential(new nn.Conv2d(3, 5, 4, { stride: 2, padding: 1 }), new nn.LeakyReLU(0.2));
    const fused = make();
    const apart = make();
    apart.loadStateDict(fused.stateDict());
    const run = (net: nn.Sequential, layered: boolean): { y: Float32Array; grads: Float32Array[]; peak: number } => {
      x.grad = null;
      const start = memory().numBytes;
      return tidy(() => {
        const y = layered ? net.layers[1]!.forward(net.layers[0]!.forward(x)) : net.forward(x);
        const peak = memory().numBytes - start; // what the forward leaves alive for backward
        backward(y.mul(y).sum());
        const conv = net.layers[0] as nn.Conv2d;
        return { y: y.data.slice(), grads: [x.grad!.data.slice(), conv.weight.grad!.data.slice(), conv.bias!.grad!.data.slice()], peak };
      });
    };
    const a = run(fused, false);
    const b = run(apart, true);
    assert.deepEqual(a.y, b.y);
    a.grads.forEach((g, i) => assert.deepEqual(g, b.grads[i], `gradient ${i}`));
    assert.ok(a.peak < b.peak, `the fused forward leaves ${a.peak} B alive, layer by layer ${b.peak} B`);
  });
});

describe('Sequential fuses BatchNorm → ReLU/LeakyReLU', () => {
  for (const [name, activation] of [['ReLU', () => new nn.ReLU()], ['LeakyReLU(0.2)', () => new nn.LeakyReLU(0.2)]] as const) {
    test(`${name}: the same outputs, gradients and running statistics as the layers one by one, with less memory`, () => {
      const x = tensor(randomValues(4 * 3 * 5 * 5, 11, 2), [4, 3, 5, 5], { requiresGrad: true });
      const fused = new nn.Sequential(new nn.BatchNorm2d(3), activation());
      const apart = new nn.Sequential(new nn.BatchNorm2d(3), activation());
      apart.loadStateDict(fused.stateDict());
      const run = (net: nn.Sequential, layered: boolean): { y: Float32Array; grads: Float32Array[]; peak: number } => {
        x.grad = null;
        const start = memory().numBytes;
        resetPeakMemory();
        return tidy(() => {
          const y = layered ? net.layers[1]!.forward(net.layers[0]!.forward(x)) : net.forward(x);
          const peak = memory().peakBytes - start;
          backward(y.mul(y).sum());
          const bn = net.layers[0] as nn.BatchNorm2d;
          return { y: y.data.slice(), grads: [x.grad!.data.slice(), bn.weight!.grad!.data.slice(), bn.bias!.grad!.data.slice(), bn.runningMean!.data.slice()], peak };
        });
      };
      const a = run(fused, false);
      const b = run(apart, true);
      assert.deepEqual(a.y, b.y);
      a.grads.forEach((g, i) => assert.deepEqual(g, b.grads[i], `gradient/statistic ${i}`));
      assert.ok(a.peak < b.peak, `fused forward holds ${a.peak} B, layer by layer ${b.peak} B`);
    });
  }
});

describe("a Sequential's activations between layers are freed by backward", () => {
  const build = (): { net: nn.Sequential; x: Tensor } => {
    manualSeed(5);
    const net = new nn.Sequential(
      new nn.Conv2d(2, 4, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(4), new nn.ReLU(),
      new nn.Conv2d(4, 3, 3, { padding: 1 }), new nn.Tanh(),
    );
    return { net, x: tensor(randomValues(2 * 2 * 6 * 6, 9, 1), [2, 2, 6, 6], { requiresGrad: true }) };
  };

  test('as backward passes them (same gradients as when the graph is retained); the input and output stay', () => {
    const grads = (retainGraph: boolean): { grads: number[][]; freed: number } =>
      tidy(() => {
        const { net, x } = build();
        const y = net.forward(x);
        const loss = F.mseLoss(y, zeros(y.shape));
        const before = memory().numTensors;
        loss.backward(undefined, { retainGraph });
        const freed = before - memory().numTensors + [...net.parameters(), x].filter((p) => p.grad !== null).length;
        assert.ok(!x.isDisposed && !y.isDisposed, 'what the caller holds survives');
        assert.ok(y.data.every(Number.isFinite));
        return { grads: [...net.parameters(), x].map((p) => Array.from(p.grad!.data)), freed };
      });
    const retained = grads(true);
    const freed = grads(false);
    assert.deepEqual(freed.grads, retained.grads);
    // conv → BatchNorm+ReLU (fused) → conv → Tanh: the three activations between them.
    assert.equal(freed.freed - retained.freed, 3);
  });
});

describe('a Sequential without a graph (inference) frees each activation once the next layer has read it', () => {
  test('only the output is left, with the same values as with a graph', () => {
    manualSeed(6);
    const net = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 3, 3, { padding: 1 }), new nn.Tanh());
    net.eval();
    const x = tensor(randomValues(2 * 2 * 6 * 6, 10, 1), [2, 2, 6, 6]);
    tidy(() => {
      const before = memory().numTensors;
      const withGraph = net.forward(x);
      const kept = memory().numTensors - before;
      const start = memory().numTensors;
      const inference = noGrad(() => net.forward(x));
      assert.equal(memory().numTensors - start, 1, 'just the output');
      assert.ok(kept > 1);
      assert.deepEqual(Array.from(inference.data), Array.from(withGraph.data));
      assert.ok(!x.isDisposed, 'the input stays');
    });
  });
});
