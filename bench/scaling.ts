/**
 * How the cost of a training step grows with image size, batch and threads: ours (the default
 * backend) and PyTorch side by side, each configuration in a process of its own so that peak
 * RSS is that configuration's. pytorch/examples' widths (ngf = ndf = 64), 3 channels.
 *
 *   npm run bench:scaling [-- --sizes 16,32,64,128,256] [-- --batches 16,64,128] [-- --threads 2] [-- --steps 2] [-- --no-peer]
 *
 * Prints one JSON line per measurement and a summary object last.
 */
import { getBackend } from '../src/index.js';
import { parseFlags, peerAvailable, PEER_ENV, runJson } from './util.js';

interface StepResult {
  stepMs: number;
  inferenceMs: number;
  peakRssMiB: number;
}

const flags = parseFlags(process.argv.slice(2));
const list = (key: string, fallback: string): number[] => (flags[key] ?? fallback).split(',').map(Number);
const sizes = list('sizes', '16,32,64,128,256');
const batches = list('batches', '16,64,128');
const threads = list('threads', '2');
const steps = Number(flags['steps'] ?? 2);
const backend = flags['backend'] ?? getBackend().name;
const peer = peerAvailable(flags);

// Image size at batch 64, then batch at 64×64.
const configs = [...sizes.map((imageSize) => ({ imageSize, batch: 64 })), ...batches.filter((b) => b !== 64).map((batch) => ({ imageSize: 64, batch }))];
const rows: Array<Record<string, unknown>> = [];
for (const { imageSize, batch } of configs) {
  for (const t of threads) {
    const common = ['--image-size', String(imageSize), '--channels', '3', '--batch', String(batch), '--threads', String(t), '--steps', String(steps)];
    const row: Record<string, unknown> = { imageSize, batch, threads: t };
    try {
      const ours = runJson<StepResult>(process.execPath, ['--import', 'tsx', 'bench/step.ts', '--backend', backend, '--warmup', '1', ...common]);
      Object.assign(row, { oursStepMs: ours.stepMs, oursInferenceMs: ours.inferenceMs, oursPeakRssMiB: ours.peakRssMiB });
    } catch (error) {
      row['oursError'] = error instanceof Error ? error.message.slice(-200) : String(error);
    }
    if (peer) {
      try {
        const theirs = runJson<StepResult>('/usr/bin/python3', ['bench/peers/pytorch_dcgan.py', '--warmup', '1', ...common], PEER_ENV);
        Object.assign(row, { pytorchStepMs: theirs.stepMs, pytorchInferenceMs: theirs.inferenceMs, pytorchPeakRssMiB: theirs.peakRssMiB });
      } catch (error) {
        row['pytorchError'] = error instanceof Error ? error.message.slice(-200) : String(error);
      }
    }
    if (typeof row['oursStepMs'] === 'number' && typeof row['pytorchStepMs'] === 'number') row['stepRatio'] = +((row['oursStepMs'] as number) / (row['pytorchStepMs'] as number)).toFixed(2);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}
console.log(JSON.stringify({ command: `npm run bench:scaling -- ${process.argv.slice(2).join(' ')}`.trim(), backend, steps, rows }));
