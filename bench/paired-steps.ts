/**
 * Our training step against PyTorch's from the very same state: the real trainer (GanTrainer,
 * ganStep, the native backend, the step memory plan) takes N steps at pytorch/examples'
 * Fashion-MNIST settings (32×32×1, ngf = ndf = 64, batch 64, Adam β1 0.5, real label 1), and
 * writes its initial weights, every real batch and every noise batch; then
 * bench/peers/pytorch_paired_steps.py loads them into pytorch/examples' networks, takes the
 * same steps, and prints both sides' losses and D outputs per step. Equal at step 1 and
 * drifting only by float rounding (which Adam amplifies) means the two steps are the same
 * computation, so quality differences between whole runs come from elsewhere.
 *
 *   node --import tsx bench/paired-steps.ts [--steps 20] [--lr 0.0002] [--seed 1] [--work DIR]
 *
 * Our side runs in a child process of its own, so its memory and threads are gone when PyTorch
 * runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset } from '../src/data/index.js';
import { setBackendAsync, setThreads } from '../src/index.js';
import { tidy } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { randn } from '../src/ops/create.js';
import { resolveTrainConfig } from '../src/train/config.js';
import { ganStep } from '../src/train/step.js';
import { GanTrainer } from '../src/train/trainer.js';
import { parseFlags, peerAvailable, PEER_ENV, ROOT } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const steps = Number(flags['steps'] ?? 20);
const lr = Number(flags['lr'] ?? 2e-4);
const seed = Number(flags['seed'] ?? 1);
const work = flags['work'] ?? join(ROOT, 'runs', 'paired-steps');
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${flags['steps']}`);
if (!peerAvailable(flags)) throw new Error('the PyTorch peer is not available (apt-get install python3-torch libopenblas0-openmp)');

if (flags['ours'] === 'true') {
  await trainOurs();
  process.exit(0);
}

async function trainOurs(): Promise<void> {
  await setBackendAsync('native');
  setThreads(2);
  const config = resolveTrainConfig({ data: 'fashion-mnist', imageSize: 32, channels: 1, ngf: 64, ndf: 64, nz: 100, batchSize: 64, lr, labelSmoothing: 0, seed, steps });
  const dataset = await openDataset('fashion-mnist', { imageSize: 32, channels: 1 });
  const trainer = await GanTrainer.create(config, { dataset });

  // Everything PyTorch needs goes into one float32 file, indexed by name in a JSON file beside it.
  const chunks: Float32Array[] = [];
  const index: Record<string, { shape: number[]; offset: number }> = {};
  let length = 0;
  const record = (name: string, x: Tensor): void => {
    index[name] = { shape: [...x.shape], offset: length };
    chunks.push(Float32Array.from(x.data));
    length += x.data.length;
  };
  for (const [name, t] of Object.entries(trainer.netG.stateDict())) record(`G.${name}`, t);
  for (const [name, t] of Object.entries(trainer.netD.stateDict())) record(`D.${name}`, t);
  const ours: number[][] = [];
  for (let i = 0; i < steps; i++) {
    const r = tidy(() => {
      const real = trainer.loader.next().images;
      const noise = randn([real.shape[0]!, config.nz, 1, 1], { generator: trainer.rng });
      record(`real.${i}`, real);
      record(`noise.${i}`, noise);
      return ganStep(trainer, real, noise, { realLabel: 1 });
    });
    ours.push([r.lossD, r.lossG, r.D_x, r.D_G_z1, r.D_G_z2]);
  }
  const all = new Float32Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'inputs.f32'), new Uint8Array(all.buffer));
  writeFileSync(join(work, 'inputs.json'), JSON.stringify({ index, steps, lr, ngf: 64, ndf: 64, nz: 100, size: 32, channels: 1 }));
  writeFileSync(join(work, 'ours.json'), JSON.stringify(ours));
}

const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1), '--ours'], { stdio: ['ignore', 'inherit', 'inherit'] });
if (child.status !== 0) throw new Error(`our side failed (${child.status ?? child.signal})`);
const ours = JSON.parse(readFileSync(join(work, 'ours.json'), 'utf8')) as number[][];
const peer = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'peers', 'pytorch_paired_steps.py'), work], { env: PEER_ENV, encoding: 'utf8' });
if (peer.status !== 0) throw new Error(`pytorch_paired_steps.py failed: ${peer.error?.message ?? peer.stderr}`);
const theirs = JSON.parse(peer.stdout) as number[][];
const names = ['lossD', 'lossG', 'D_x', 'D_G_z1', 'D_G_z2'];
const rows = ours.map((o, i) => ({ step: i + 1, ...Object.fromEntries(names.flatMap((n, k) => [[`${n}_ours`, o[k]], [`${n}_pytorch`, theirs[i]![k]]])) }));
for (const row of rows) console.log(JSON.stringify(row));
/** The relative difference of quantity k after step i + 1. */
const rel = (i: number, k: number): number => Math.abs(ours[i]![k]! - theirs[i]![k]!) / Math.max(1e-12, Math.abs(theirs[i]![k]!));
const maxRel = (k: number): number => Math.max(...ours.map((_, i) => rel(i, k)));
console.log(JSON.stringify({ kind: 'summary', steps, lr, seed, step1_max_rel: Math.max(...names.map((_, k) => rel(0, k))), max_rel: Object.fromEntries(names.map((n, k) => [n, maxRel(k)])) }));
