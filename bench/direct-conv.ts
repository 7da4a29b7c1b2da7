/**
 * The native backend with and without oneDNN's direct convolutions, paired: each round runs
 * bench/step.ts (a process of its own) with DCGAN_DIRECT_CONV=off and then with the mode under
 * test (default auto), for every configuration, and the headline is the median over the rounds
 * of mode ÷ off measured back to back. One JSON object on stdout; progress on stderr.
 *
 *   node --import tsx bench/direct-conv.ts [--rounds 3] [--configs 64x3,32x1] [--threads 2] [--batch 64] [--mode auto|on]
 *
 * Other environment (ONEDNN_MAX_CPU_ISA=AVX2, say) passes through to every run.
 */
import { gitCommit, median, parseFlags, runJson } from './util.js';

interface StepResult {
  stepMs: number;
  inferenceMs: number;
  peakRssMiB: number;
}

const flags = parseFlags(process.argv.slice(2));
const rounds = Number(flags['rounds'] ?? 3);
const threads = Number(flags['threads'] ?? 2);
const batch = Number(flags['batch'] ?? 64);
const mode = flags['mode'] ?? 'auto';
if (mode !== 'auto' && mode !== 'on') throw new Error(`--mode must be auto or on, got ${mode}`);
for (const [name, v] of Object.entries({ rounds, threads, batch })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
}
const configs = (flags['configs'] ?? '64x3,32x1').split(',').map((c) => {
  const match = /^(\d+)x([13])$/.exec(c);
  if (match === null) throw new Error(`--configs takes SIZExCHANNELS items such as 64x3 or 32x1, got ${c}`);
  return { imageSize: Number(match[1]), channels: Number(match[2]) };
});

const step = (imageSize: number, channels: number, directConv: string): StepResult =>
  runJson<StepResult>(
    process.execPath,
    ['--import', 'tsx', 'bench/step.ts', '--backend', 'native', '--threads', String(threads), '--image-size', String(imageSize), '--channels', String(channels), '--batch', String(batch)],
    { ...process.env, DCGAN_DIRECT_CONV: directConv },
  );

const runs: Array<{ round: number; imageSize: number; channels: number; off: StepResult; direct: StepResult; stepRatio: number; inferenceRatio: number }> = [];
for (let round = 1; round <= rounds; round++) {
  for (const { imageSize, channels } of configs) {
    process.stderr.write(`direct-conv: ${imageSize}×${imageSize}×${channels}, round ${round}/${rounds}…\n`);
    const off = step(imageSize, channels, 'off');
    const direct = step(imageSize, channels, mode);
    runs.push({ round, imageSize, channels, off, direct, stepRatio: +(direct.stepMs / off.stepMs).toFixed(3), inferenceRatio: +(direct.inferenceMs / off.inferenceMs).toFixed(3) });
  }
}

const summary = configs.map(({ imageSize, channels }) => {
  const mine = runs.filter((r) => r.imageSize === imageSize && r.channels === channels);
  const pick = (f: (r: (typeof mine)[number]) => number): number => +median(mine.map(f)).toFixed(3);
  return {
    config: `${imageSize}x${imageSize}x${channels} batch ${batch}`,
    offStepMs: pick((r) => r.off.stepMs),
    directStepMs: pick((r) => r.direct.stepMs),
    stepRatioMedian: pick((r) => r.stepRatio),
    stepRatios: mine.map((r) => r.stepRatio),
    inferenceRatioMedian: pick((r) => r.inferenceRatio),
    offPeakRssMiB: pick((r) => r.off.peakRssMiB),
    directPeakRssMiB: pick((r) => r.direct.peakRssMiB),
  };
});

const commit = gitCommit() ?? 'unknown';
console.log(JSON.stringify({ command: `node --import tsx bench/direct-conv.ts ${process.argv.slice(2).join(' ')}`.trim(), commit, mode, threads, batch, rounds, summary, runs }));
