/**
 * The training loop through the library: resume equivalence (bitwise), NaN/Inf stops that keep
 * the last good checkpoint, interruption, flat memory, label smoothing. Tiny settings: 16×16,
 * ngf = ndf = 8, batch 4, a few steps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertSameCheckpoint } from './cli-run.js';
import * as kernels from '../src/kernels/index.js';
import {
  availableBackends, backward, detach, functional as F, Generator, getBackendName, keep, memory, optim, randn, setBackend, tidy, uniform,
} from '../src/index.js';
import { dcganDiscriminator, dcganGenerator } from '../src/models/dcgan.js';
import { ganStep } from '../src/train/step.js';
import { loadCheckpoint } from '../src/train/index.js';
import { GanTrainer, resolveTrainConfig, runTraining, TrainConfigError, type StepMetrics, type TrainConfig } from '../src/train/index.js';

const root = mkdtempSync(join(tmpdir(), 'dcgan-train-'));
after(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;
const freshDir = (): string => join(root, `run${++runs}`);

const TINY: Partial<TrainConfig> = { imageSize: 16, channels: 3, nz: 16, ngf: 8, ndf: 8, batchSize: 4, sampleEvery: 0, checkpointEvery: 0, sampleCount: 8 };

function tiny(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return resolveTrainConfig({ ...TINY, ...overrides });
}

function metricLines(dir: string): StepMetrics[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepMetrics);
}


const setThreads = (kernels as unknown as Record<string, unknown>)['setThreads'];

for (const backend of availableBackends()) {
  describe(`training on the ${backend} backend`, () => {
    let previous = '';
    before(() => {
      previous = getBackendName();
      setBackend(backend);
      if (typeof setThreads === 'function') (setThreads as (n: number) => void)(1);
    });
    after(() => setBackend(previous));

    it('N steps straight == N/2 steps + resume + N/2 steps, bitwise (weights, BN buffers, Adam moments, RNG, loader, fixed noise)', async () => {
      // 6 steps over a 12-image dataset at batch 4 cross an epoch boundary (3 batches per epoch).
      const straight = freshDir();
      const config = tiny({ steps: 6, sampleEvery: 2, checkpointEvery: 2 });
      const dataset = await openTinyShapes(12);
      const r1 = await runTraining({ config, outDir: straight, dataset });
      assert.equal(r1.status, 'completed');
      assert.equal(r1.epoch, 1);

      const split = freshDir();
      const first = await runTraining({ config: { ...config, steps: 3 }, outDir: split, dataset });
      assert.equal(first.step, 3);
      const checkpoint = loadCheckpoint(join(split, 'checkpoint.safetensors'));
      assert.equal(checkpoint.step, 3);
      assert.deepEqual(checkpoint.loader, { epoch: 1, batchIndex: 0, seed: config.seed });
      const second = await runTraining({ config, outDir: split, dataset, resume: checkpoint });
      assert.equal(second.step, 6);

      assertSameCheckpoint(join(straight, 'checkpoint.safetensors'), join(split, 'checkpoint.safetensors'));
      // The metric log of the resumed run continues where the first half stopped, with the same losses.
      const a = metricLines(straight);
      const b = metricLines(split);
      assert.deepEqual(b.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(b.map((m) => [m.lossD, m.lossG, m.D_x, m.epoch]), a.map((m) => [m.lossD, m.lossG, m.D_x, m.epoch]));
      // The same sample grids, byte for byte.
      assert.deepEqual(readFileSync(join(split, 'samples', 'step_000006.png')), readFileSync(join(straight, 'samples', 'step_000006.png')));
    });

    it('a resume from a mid-run checkpoint redoes later steps identically and trims their metric lines', async () => {
      const dataset = await openTinyShapes(40);
      const dir = freshDir();
      const config = tiny({ steps: 5, checkpointEvery: 2 });
      const controller = new AbortController();
      const stopped = await runTraining({ config, outDir: dir, dataset, signal: controller.signal, afterStep: (t) => t.step === 3 && controller.abort() });
      assert.equal(stopped.status, 'interrupted');
      assert.equal(stopped.step, 3);
      assert.equal(stopped.checkpointStep, 3, 'an interrupted run writes a checkpoint');
      assert.equal(loadCheckpoint(join(dir, 'checkpoint.safetensors')).step, 3);
      const resumed = await runTraining({ config, outDir: dir, dataset, resume: loadCheckpoint(join(dir, 'checkpoint.safetensors')) });
      assert.equal(resumed.status, 'completed');
      assert.deepEqual(metricLines(dir).map((m) => m.step), [1, 2, 3, 4, 5]);
      const straight = freshDir();
      await runTraining({ config, outDir: straight, dataset });
      assertSameCheckpoint(join(straight, 'checkpoint.safetensors'), join(dir, 'checkpoint.safetensors'));
    });
  });
}

describe('the GAN step', () => {
  it("freezes D for G's backward: the same weights and Adam moments as pytorch/examples' order, which computes D's gradients there and discards them", () => {
    const config = { imageSize: 16, channels: 3 as const, nz: 8, ngf: 4, ndf: 4 };
    const build = () => {
      const generator = new Generator(7);
      const netG = dcganGenerator(config, { generator });
      const netD = dcganDiscriminator(config, { generator });
      return { netG, netD, optG: new optim.Adam(netG.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }), optD: new optim.Adam(netD.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }) };
    };
    const inputs = new Generator(8);
    const real = keep(uniform([4, 3, 16, 16], -1, 1, { generator: inputs }));
    const noises = [0, 1].map(() => keep(randn([4, 8, 1, 1], { generator: inputs })));
    const frozen = build();
    const reference = build();
    const dWeightPasses: number[] = [];
    const firstDifference = (a: Float32Array, b: Float32Array): number => (a.length !== b.length ? 0 : a.findIndex((v, i) => !Object.is(v, b[i])));
    for (const noise of noises) {
      // D's gradients when its loss is checked (before its step) must be the same when G's is: nothing added to them in between.
      let dGrads: Float32Array[] = [];
      const checkLoss = (name: 'lossD' | 'lossG'): void => {
        const now = frozen.netD.parameters().map((p) => p.grad!.data.slice());
        if (name === 'lossD') dGrads = now;
        else now.forEach((g, i) => assert.equal(firstDifference(g, dGrads[i]!), -1, `D parameter ${i} got a gradient in the G pass`));
      };
      tidy(() => ganStep(frozen, real, noise, { realLabel: 1, checkLoss }));
      // The reference: pytorch/examples' step, D's parameters left trainable during G's backward.
      tidy(() => {
        const { netG, netD, optG, optD } = reference;
        optD.zeroGrad();
        backward(F.binaryCrossEntropyWithLogits(netD.forward(real), 1));
        const fake = netG.forward(noise);
        backward(F.binaryCrossEntropyWithLogits(netD.forward(detach(fake)), 0));
        optD.step();
        optD.zeroGrad();
        optG.zeroGrad();
        backward(F.binaryCrossEntropyWithLogits(netD.forward(fake), 1));
        dWeightPasses.push(netD.parameters().filter((p) => p.grad !== null).length);
        optG.step();
      });
    }
    assert.ok(dWeightPasses.every((n) => n > 0), 'the reference does compute D gradients in the G pass');
    for (const net of ['netG', 'netD'] as const) {
      const a = frozen[net].stateDict();
      const b = reference[net].stateDict();
      for (const key of Object.keys(b)) assert.equal(firstDifference(a[key]!.data, b[key]!.data), -1, `${net}.${key} differs`);
      assert.ok(frozen[net].parameters().every((p) => p.requiresGrad), `${net} is trainable again after the step`);
    }
    for (const opt of ['optG', 'optD'] as const) {
      const a = frozen[opt].stateDict({ copy: false }).state;
      const b = reference[opt].stateDict({ copy: false }).state;
      b.forEach((entry, i) => {
        for (const [name, value] of Object.entries(entry ?? {})) {
          const other = a[i]?.[name];
          if (typeof value === 'number') assert.equal(other, value, `${opt} ${i}.${name}`);
          else assert.equal(firstDifference((other as typeof value).data, value.data), -1, `${opt} state ${i}.${name} differs`);
        }
      });
    }
    for (const t of [real, ...noises]) t.dispose();
  });
});

async function openTinyShapes(length: number) {
  const { openDataset } = await import('../src/data/index.js');
  return openDataset('shapes', { imageSize: 16, channels: 3, seed: 0, length });
}

describe('divergence', () => {
  it('a NaN loss stops the run with a clear message, keeping the last good checkpoint', async () => {
    const dir = freshDir();
    const dataset = await openTinyShapes(40);
    const result = await runTraining({
      config: tiny({ steps: 10, checkpointEvery: 2 }),
      outDir: dir,
      dataset,
      afterStep: (trainer) => {
        if (trainer.step === 3) trainer.netG.main.layers[0]!.parameters()[0]!.data[0] = Number.NaN;
      },
    });
    assert.equal(result.status, 'diverged');
    assert.equal(result.step, 3);
    assert.match(result.message!, /^training diverged at step 4: lossD is NaN; the last good checkpoint \(step 2\) is kept in .*checkpoint\.safetensors$/);
    const checkpoint = loadCheckpoint(join(dir, 'checkpoint.safetensors'));
    assert.equal(checkpoint.step, 2);
    for (const t of Object.values(checkpoint.netG)) assert.ok(t.data.every(Number.isFinite));
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /training diverged at step 4/);
  });

  it('non-finite weights at a checkpoint step are never written', async () => {
    const dir = freshDir();
    const dataset = await openTinyShapes(40);
    const result = await runTraining({
      config: tiny({ steps: 10, checkpointEvery: 2 }),
      outDir: dir,
      dataset,
      afterStep: (trainer) => {
        if (trainer.step === 4) trainer.netD.main.layers[0]!.parameters()[0]!.data[5] = Number.POSITIVE_INFINITY;
      },
    });
    assert.equal(result.status, 'diverged');
    assert.match(result.message!, /training diverged by step 4: netD\.main\.0\.weight holds a non-finite value \(Infinity\) at index 5; the last good checkpoint \(step 2\) is kept/);
    assert.equal(loadCheckpoint(join(dir, 'checkpoint.safetensors')).step, 2);
  });

  it('a huge learning rate blows up into a clean divergence stop, not a crash', async () => {
    const dir = freshDir();
    const result = await runTraining({ config: tiny({ steps: 30, lr: 1e30, checkpointEvery: 0 }), outDir: dir, dataset: await openTinyShapes(40) });
    assert.equal(result.status, 'diverged');
    assert.match(result.message!, /^training diverged (at|by) step \d+: .*; no checkpoint was written before it$/);
  });
});

describe('the trainer', () => {
  it('memory stays flat over steps (every step runs in tidy)', async () => {
    const trainer = await GanTrainer.create(tiny({ steps: 100 }), { dataset: await openTinyShapes(40) });
    try {
      trainer.trainStep();
      trainer.trainStep();
      const before = memory();
      for (let i = 0; i < 6; i++) trainer.trainStep();
      trainer.sample().dispose();
      const afterSteps = memory();
      assert.equal(afterSteps.numTensors, before.numTensors);
      assert.equal(afterSteps.numBytes, before.numBytes);
    } finally {
      trainer.dispose();
    }
  });

  it('metrics are sane: probabilities in (0, 1), finite losses, epoch and step counters', async () => {
    const trainer = await GanTrainer.create(tiny({ steps: 100 }), { dataset: await openTinyShapes(8) });
    try {
      const seen: StepMetrics[] = [];
      for (let i = 0; i < 3; i++) seen.push(trainer.trainStep());
      assert.deepEqual(seen.map((m) => [m.step, m.epoch]), [[1, 0], [2, 0], [3, 1]]);
      for (const m of seen) {
        for (const p of [m.D_x, m.D_G_z1, m.D_G_z2]) assert.ok(p > 0 && p < 1);
        assert.ok(Number.isFinite(m.lossD) && Number.isFinite(m.lossG) && m.imagesPerSec > 0);
      }
    } finally {
      trainer.dispose();
    }
  });

  it("label smoothing changes only D's real target", async () => {
    const dataset = await openTinyShapes(8);
    const plain = await GanTrainer.create(tiny(), { dataset });
    const smooth = await GanTrainer.create(tiny({ labelSmoothing: 0.5 }), { dataset });
    try {
      const a = plain.trainStep();
      const b = smooth.trainStep();
      assert.equal(a.D_x, b.D_x, 'same weights, same batch');
      assert.equal(a.D_G_z1, b.D_G_z1, 'same fake batch before the D update');
      assert.notEqual(a.lossD, b.lossD);
    } finally {
      plain.dispose();
      smooth.dispose();
    }
  });

  it('sampling has no side effects on the generator (eval mode, buffers untouched)', async () => {
    const trainer = await GanTrainer.create(tiny(), { dataset: await openTinyShapes(8) });
    try {
      trainer.trainStep();
      const before = Object.fromEntries(Object.entries(trainer.netG.stateDict()).map(([k, t]) => [k, t.toFloat32Array()]));
      const s1 = trainer.sample();
      const s2 = trainer.sample();
      assert.deepEqual(s1.data, s2.data);
      s1.dispose();
      s2.dispose();
      assert.equal(trainer.netG.training, true);
      for (const [k, t] of Object.entries(trainer.netG.stateDict())) assert.deepEqual(t.data, before[k], k);
    } finally {
      trainer.dispose();
    }
  });

  it('bad settings are one-line errors', () => {
    assert.throws(() => resolveTrainConfig({ imageSize: 48 }), (e: unknown) => e instanceof TrainConfigError && e.message === 'image size must be a power of two between 16 and 256, got 48');
    assert.throws(() => resolveTrainConfig({ lr: 0 }), /learning rate must be a positive number, got 0/);
    assert.throws(() => resolveTrainConfig({ beta1: 1 }), /beta1 must be in \[0, 1\), got 1/);
    assert.throws(() => resolveTrainConfig({ labelSmoothing: -0.1 }), /label smoothing must be in \[0, 1\)/);
    assert.throws(() => resolveTrainConfig({ batchSize: 0 }), /batch size must be an integer ≥ 1, got 0/);
    assert.throws(() => resolveTrainConfig({ steps: 2.5 }), /steps must be an integer ≥ 1, got 2.5/);
  });
});
