/**
 * End to end against PyTorch: the 32×32 single-channel DCGAN pair, initialised from an
 * integer hash that make_golden.py reproduces exactly, trained for 3 alternating Adam steps
 * with the pytorch/examples loop; losses and parameters must match within 1e-4.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryCrossEntropyWithLogits, mean, nn, optim, sigmoid, tensor, tidy, type Tensor } from '../src/index.js';
import { forEachBackend, loadFixture } from './helpers.js';

interface Summary {
  shape?: number[];
  sum: number;
  abs_sum?: number;
  sample: number[];
  sample_index: number[];
}

interface Dcgan32Fixture {
  batch: number;
  steps: number;
  nz: number;
  hash: { weight_a: number; real_seed: number; noise_seed_base: number; real_a: number; noise_a: number; g_first_seed: number; d_first_seed: number };
  param_order: { G: string[]; D: string[] };
  losses: Array<Record<'errD_real' | 'errD_fake' | 'errD' | 'errG' | 'D_x' | 'D_G_z1' | 'D_G_z2', number>>;
  initial_check: { G: Record<string, Summary>; D: Record<string, Summary> };
  fake_sample_step1: number[];
  pinned_grads: { threshold: number; steps: Array<{ step: number; net: 'D' | 'G'; entries: Array<[string, number, number]> }> };
  final: { G: Record<string, Summary>; D: Record<string, Summary> };
}

/** The integer hash of make_golden.py, bit for bit (32-bit wrap-around products). */
function hashU32(seed: number, i: number): number {
  let h = (Math.imul(seed, 0x9e3779b1) + Math.imul(i, 0x85ebca77) + 0x165667b1) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
}

function hashUniform(seed: number, n: number, a: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * (hashU32(seed, i) / 4294967296) - 1) * a;
  return out;
}

class Net extends nn.Module {
  readonly main: nn.Sequential;
  constructor(...layers: nn.Module[]) {
    super();
    this.main = this.registerModule('main', new nn.Sequential(...layers));
  }
  forward(x: Tensor): Tensor {
    return this.main.forward(x);
  }
}

const noBias = { bias: false };
const up = { stride: 2, padding: 1, bias: false };

function generator(): Net {
  return new Net(
    new nn.ConvTranspose2d(100, 256, 4, noBias), new nn.BatchNorm2d(256), new nn.ReLU(),
    new nn.ConvTranspose2d(256, 128, 4, up), new nn.BatchNorm2d(128), new nn.ReLU(),
    new nn.ConvTranspose2d(128, 64, 4, up), new nn.BatchNorm2d(64), new nn.ReLU(),
    new nn.ConvTranspose2d(64, 1, 4, up), new nn.Tanh(),
  );
}

function discriminator(): Net {
  return new Net(
    new nn.Conv2d(1, 64, 4, up), new nn.LeakyReLU(0.2),
    new nn.Conv2d(64, 128, 4, up), new nn.BatchNorm2d(128), new nn.LeakyReLU(0.2),
    new nn.Conv2d(128, 256, 4, up), new nn.BatchNorm2d(256), new nn.LeakyReLU(0.2),
    new nn.Conv2d(256, 1, 4, noBias),
  );
}

/** Fills a module's state from the hash, key by key, seeds counting up from `firstSeed`. */
function hashInit(net: Net, firstSeed: number, a: number): void {
  Object.entries(net.stateDict()).forEach(([name, t], k) => {
    const seed = firstSeed + k;
    if (name.endsWith('running_mean') || name.endsWith('bias') || name.endsWith('num_batches_tracked')) t.data.fill(0);
    else if (name.endsWith('running_var')) t.data.fill(1);
    else if (t.ndim === 1) t.data.set(hashUniform(seed, t.size, a).map((v) => Math.fround(1 + v)));
    else t.data.set(hashUniform(seed, t.size, a));
  });
}

/**
 * Gradient elements below ~1e-6 decide Adam's first updates by their last bits (see
 * make_golden.py): check ours against PyTorch's there, then continue from PyTorch's values
 * so that three steps compare the engine, not float noise amplified by Adam.
 */
function pinTinyGradients(net: Net, side: 'D' | 'G', step: number): void {
  const pins = fx.pinned_grads.steps.find((p) => p.step === step && p.net === side)!;
  const params = Object.fromEntries(net.namedParameters());
  for (const [name, index, value] of pins.entries) {
    const grad = params[name]!.grad!;
    assert.ok(Math.abs(grad.data[index]! - value) <= 1e-6, `${side} ${name}.grad[${index}] is ${grad.data[index]}, PyTorch has ${value}`);
    grad.data[index] = value;
  }
}

function fsum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}

function checkSummary(what: string, t: Tensor, s: Summary, atol: number): void {
  s.sample_index.forEach((index, j) => {
    const actual = t.data[index]!;
    assert.ok(Math.abs(actual - s.sample[j]!) <= atol + 1e-4 * Math.abs(s.sample[j]!), `${what}[${index}] is ${actual}, PyTorch has ${s.sample[j]}`);
  });
  const sum = fsum(t.data);
  const scale = s.abs_sum ?? Math.abs(s.sum);
  assert.ok(Math.abs(sum - s.sum) <= 1e-4 * Math.max(1, scale), `${what}: sum ${sum}, PyTorch has ${s.sum}`);
}

const fx = loadFixture<Dcgan32Fixture>('dcgan32');

forEachBackend((backend) => {
  describe(`DCGAN 32×32×1 against PyTorch on the ${backend} backend`, () => {
    it('hash initialisation reproduces the PyTorch run\'s initial weights', () => {
      tidy(() => {
        const g = generator();
        const d = discriminator();
        assert.deepEqual(Object.keys(g.stateDict()), fx.param_order.G);
        assert.deepEqual(Object.keys(d.stateDict()), fx.param_order.D);
        hashInit(g, fx.hash.g_first_seed, fx.hash.weight_a);
        hashInit(d, fx.hash.d_first_seed, fx.hash.weight_a);
        for (const [net, side] of [[g, 'G'], [d, 'D']] as const) {
          const state = net.stateDict();
          for (const [name, summary] of Object.entries(fx.initial_check[side])) checkSummary(`${side} ${name}`, state[name]!, summary, 0);
        }
      });
    });

    it('3 alternating Adam steps give PyTorch\'s losses and parameters within 1e-4', () => {
      tidy(() => {
        const g = generator();
        const d = discriminator();
        hashInit(g, fx.hash.g_first_seed, fx.hash.weight_a);
        hashInit(d, fx.hash.d_first_seed, fx.hash.weight_a);
        const optD = new optim.Adam(d.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
        const optG = new optim.Adam(g.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
        const b = fx.batch;
        const real = tensor(hashUniform(fx.hash.real_seed, b * 32 * 32, fx.hash.real_a), [b, 1, 32, 32]);
        for (let step = 1; step <= fx.steps; step++) {
          tidy(() => {
            const noise = tensor(hashUniform(fx.hash.noise_seed_base + step, b * fx.nz, fx.hash.noise_a), [b, fx.nz, 1, 1]);
            d.zeroGrad();
            const outReal = d.forward(real).view([-1]);
            const errDReal = binaryCrossEntropyWithLogits(outReal, 1);
            errDReal.backward();
            const fake = g.forward(noise);
            if (step === 1) {
              fx.fake_sample_step1.forEach((v, i) => assert.ok(Math.abs(fake.data[i]! - v) <= 1e-5, `fake[${i}] is ${fake.data[i]}, PyTorch has ${v}`));
            }
            const outFake = d.forward(fake.detach()).view([-1]);
            const errDFake = binaryCrossEntropyWithLogits(outFake, 0);
            errDFake.backward();
            pinTinyGradients(d, 'D', step);
            optD.step();
            g.zeroGrad();
            const outG = d.forward(fake).view([-1]);
            const errG = binaryCrossEntropyWithLogits(outG, 1);
            errG.backward();
            pinTinyGradients(g, 'G', step);
            optG.step();

            const expected = fx.losses[step - 1]!;
            const got = {
              errD_real: errDReal.item(),
              errD_fake: errDFake.item(),
              errG: errG.item(),
              D_x: mean(sigmoid(outReal)).item(),
              D_G_z1: mean(sigmoid(outFake)).item(),
              D_G_z2: mean(sigmoid(outG)).item(),
            };
            for (const [key, value] of Object.entries(got)) {
              const e = expected[key as keyof typeof expected];
              assert.ok(Math.abs(value - e) <= 1e-4 * Math.max(1, Math.abs(e)), `step ${step} ${key}: ${value}, PyTorch has ${e}`);
            }
          });
        }
        for (const [net, side] of [[g, 'G'], [d, 'D']] as const) {
          const state = net.stateDict();
          for (const [name, summary] of Object.entries(fx.final[side])) checkSummary(`${side} ${name} after ${fx.steps} steps`, state[name]!, summary, 1e-4);
        }
      });
    });
  });
});
