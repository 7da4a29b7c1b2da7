/**
 * One Fashion-MNIST run at pytorch/examples' settings, several generator averages kept side by
 * side (different warm-up horizons), each scored by evaluateGenerator at the end; the raw G under
 * its stored and recomputed statistics too. The built-in average is the trainer's (--ema 0.999,
 * warm-up k = 10); each other decays as min(cap, (1+t)/(k+t)), so it reaches ≈ t/(k−1) steps back.
 * Prints one JSON line per generator (raw lines of a run: bench/results/*-ema-horizons-*.jsonl).
 *   node --import tsx bench/ema-horizons.ts --seed 1 --lr 0.0008 [--lr-d 0.0004] --threads 2 [--steps N]
 */
import { setBackend, setThreads } from '../src/index.js';
import { openDataset } from '../src/data/index.js';
import { evaluateGenerator } from '../src/eval/evaluate.js';
import { loadFeatureExtractor } from '../src/eval/extractor.js';
import { DcganGenerator } from '../src/models/dcgan.js';
import { recomputeBatchNormStatistics } from '../src/nn/batchnorm.js';
import { randn } from '../src/ops/create.js';
import { Generator } from '../src/tensor/random.js';
import { tidy } from '../src/tensor/scope.js';
import { resolveTrainConfig } from '../src/train/config.js';
import { WeightAverage } from '../src/train/ema.js';
import { GanTrainer, generate } from '../src/train/trainer.js';
import { parseFlags } from './util.js';

const flags = parseFlags(process.argv.slice(2));
setBackend('native');
setThreads(Number(flags['threads'] ?? 2));
const seed = Number(flags['seed'] ?? 1);
const lr = Number(flags['lr'] ?? 8e-4);
const config = resolveTrainConfig({
  data: 'fashion-mnist', imageSize: 32, channels: 1, nz: 100, ngf: 64, ndf: 64, projection: 'conv',
  batchSize: 64, lr, lrD: Number(flags['lr-d'] ?? 0), beta1: 0.5, labelSmoothing: 0, ema: 0.999, seed,
  steps: Number(flags['steps'] ?? 2811), sampleEvery: 0, checkpointEvery: 0, evalEvery: 0,
});
const dataset = await openDataset('fashion-mnist', { imageSize: 32, channels: 1, seed });
const trainer = await GanTrainer.create(config, { dataset });

// Extra averages: decay_t = min(cap, (1+t)/(k+t)), window ≈ t/(k−1).
const variants: { name: string; k: number; cap: number }[] = [
  { name: 'k20', k: 20, cap: 0.9999 },
  { name: 'k5', k: 5, cap: 0.9999 },
  { name: 'k3', k: 3, cap: 0.9999 },
];
const averages = variants.map((v) => {
  const g = new DcganGenerator(trainer.netG.config);
  return { ...v, g, average: new WeightAverage(trainer.netG, g, v.cap, (t) => Math.min(v.cap, (1 + t) / (v.k + t))) };
});
const t0 = performance.now();
for (let s = 0; s < config.steps; s++) {
  const m = trainer.trainStep();
  for (const a of averages) a.average.update(m.step);
  if (m.step % 200 === 0) console.error(JSON.stringify({ step: m.step, lossD: m.lossD, lossG: m.lossG, s: ((performance.now() - t0) / 1000).toFixed(0) }));
}
const real = await openDataset('fashion-mnist', { imageSize: 32, channels: 1 });
const extractor = await loadFeatureExtractor('fashion-mnist', { imageSize: 32, channels: 1, dataset: real });
const score = (name: string, g: DcganGenerator): void => {
  const rng = new Generator(0);
  const sample = (count: number): Float32Array => tidy(() => Float32Array.from(generate(g, randn([count, 100, 1, 1], { generator: rng })).data));
  const r = evaluateGenerator(extractor, real, { n: Number(flags['n'] ?? 10000), batchSize: 250, seed: 0, sample });
  console.log(JSON.stringify({ seed, lr, lr_d: config.lrD, variant: name, fid_local: r.fid_local, kid_local: r.kid_local.mean, precision: r.precision_local, recall: r.recall_local }));
};
const recompute = (g: DcganGenerator): void => {
  const rng = new Generator(12345 + seed);
  recomputeBatchNormStatistics(g, 16, () => tidy(() => void g.forward(randn([64, 100, 1, 1], { generator: rng }))));
};
score('k10 (built-in)', trainer.samplingGenerator());
for (const a of averages) {
  recompute(a.g);
  score(a.name, a.g);
}
score('raw stored', trainer.netG);
recompute(trainer.netG);
score('raw recomputed', trainer.netG);
