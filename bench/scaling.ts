/**
 * How the cost of a training step grows with image size, batch, channels and threads: ours (the
 * default backend) and PyTorch side by side, each measurement in a process of its own so that
 * peak RSS is that configuration's. pytorch/examples' widths (ngf = ndf = 64).
 *
 *   npm run bench:scaling -- [--sizes 32,64,128] [--batches 16,64,128] [--channels 3] [--threads 2]
 *                            [--rounds 3] [--steps 3] [--warmup-seconds 2] [--max-warmup 200]
 *                            [--peer-max-pixels 16384] [--no-peer] [--backend native]
 *
 * Every image size is run at every batch (the grid). A round runs ours and the peer back to
 * back, alternating which goes first, so each round gives one paired ratio measured under the
 * same machine load; the summary reports the median over rounds of each side's time and of
 * the paired ratios, and the largest peak RSS seen. Both sides warm up by the same rule as
 * `npm run bench` (warmupDone in src/bench/training-step.ts): at least 2 steps and
 * --warmup-seconds (2 here, to keep the grid short; 0: the earlier protocol of 2 steps, which at
 * the small sizes timed one-time work of ours in the fourth step). The peer is skipped above
 * --peer-max-pixels (image side², default 128×128): at 256×256 one PyTorch step takes a
 * minute or more here. Prints one JSON line per round and configuration and a summary last.
 */
import { getBackend } from '../src/index.js';
import { STEADY_WARMUP } from '../src/bench/training-step.js';
import { median, parseFlags, peerAvailable, PEER_ENV, runJson } from './util.js';

interface StepResult {
  stepMs: number;
  inferenceMs: number;
  peakRssMiB: number;
}

const flags = parseFlags(process.argv.slice(2));
const list = (key: string, fallback: string): number[] => (flags[key] ?? fallback).split(',').map(Number);
const sizes = list('sizes', '32,64,128');
const batches = list('batches', '16,64,128');
const channelsList = list('channels', '3');
const threads = list('threads', '2');
const rounds = Number(flags['rounds'] ?? 3);
const steps = Number(flags['steps'] ?? 3);
const warmupSeconds = Number(flags['warmup-seconds'] ?? 2);
const maxWarmup = Number(flags['max-warmup'] ?? STEADY_WARMUP.maxWarmup);
const peerMaxPixels = Number(flags['peer-max-pixels'] ?? 128 * 128);
const backend = flags['backend'] ?? getBackend().name;
const peer = peerAvailable(flags);

interface Config {
  imageSize: number;
  batch: number;
  channels: number;
  threads: number;
}
const configs: Config[] = [];
for (const channels of channelsList) {
  for (const imageSize of sizes) {
    for (const batch of batches) for (const t of threads) configs.push({ imageSize, batch, channels, threads: t });
  }
}

function measure(side: 'ours' | 'pytorch', c: Config): StepResult | string {
  // At least two warm-up steps on both sides (our first step is laid out by first fit and gives its
  // freed pages back, so the second touches them afresh), and then the seconds: at the small sizes
  // our fourth step still did one-time work (BENCHMARKS.md, twenty-fifth session).
  const common = [
    '--image-size', String(c.imageSize), '--channels', String(c.channels), '--batch', String(c.batch), '--threads', String(c.threads), '--steps', String(steps),
    '--warmup', String(STEADY_WARMUP.warmup), '--warmup-seconds', String(warmupSeconds), '--max-warmup', String(maxWarmup),
  ];
  try {
    return side === 'ours'
      ? runJson<StepResult>(process.execPath, ['--import', 'tsx', 'bench/step.ts', '--backend', backend, ...common])
      : runJson<StepResult>('/usr/bin/python3', ['bench/peers/pytorch_dcgan.py', ...common], PEER_ENV);
  } catch (error) {
    return error instanceof Error ? error.message.slice(-200) : String(error);
  }
}

const perConfig = new Map<Config, { ours: StepResult[]; pytorch: StepResult[]; ratios: number[]; errors: string[] }>();
for (const c of configs) perConfig.set(c, { ours: [], pytorch: [], ratios: [], errors: [] });

for (let round = 0; round < rounds; round++) {
  for (const c of configs) {
    const record = perConfig.get(c)!;
    const withPeer = peer && c.imageSize * c.imageSize <= peerMaxPixels;
    const order: Array<'ours' | 'pytorch'> = !withPeer ? ['ours'] : round % 2 === 0 ? ['ours', 'pytorch'] : ['pytorch', 'ours'];
    const got: Partial<Record<'ours' | 'pytorch', StepResult>> = {};
    for (const side of order) {
      const r = measure(side, c);
      if (typeof r === 'string') record.errors.push(`${side}: ${r}`);
      else {
        got[side] = r;
        record[side].push(r);
      }
    }
    const ratio = got.ours && got.pytorch ? got.ours.stepMs / got.pytorch.stepMs : undefined;
    if (ratio !== undefined) record.ratios.push(ratio);
    console.log(JSON.stringify({ round, ...c, ours: got.ours, pytorch: got.pytorch, stepRatio: ratio === undefined ? undefined : +ratio.toFixed(3) }));
  }
}

const summarise = (runs: StepResult[]): Record<string, number> | undefined =>
  runs.length === 0
    ? undefined
    : {
        stepMs: +median(runs.map((r) => r.stepMs)).toFixed(1),
        inferenceMs: +median(runs.map((r) => r.inferenceMs)).toFixed(1),
        peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
      };
const rows = configs.map((c) => {
  const r = perConfig.get(c)!;
  return {
    ...c,
    ours: summarise(r.ours),
    pytorch: summarise(r.pytorch),
    stepRatioMedian: r.ratios.length ? +median(r.ratios).toFixed(3) : undefined,
    stepRatioRange: r.ratios.length ? [+Math.min(...r.ratios).toFixed(3), +Math.max(...r.ratios).toFixed(3)] : undefined,
    rounds: r.ours.length,
    errors: r.errors.length ? r.errors : undefined,
  };
});
const warmup = { minSteps: STEADY_WARMUP.warmup, seconds: warmupSeconds, maxSteps: maxWarmup };
console.log(JSON.stringify({ command: `npm run bench:scaling -- ${process.argv.slice(2).join(' ')}`.trim(), backend, steps, warmup, rounds, rows }));
