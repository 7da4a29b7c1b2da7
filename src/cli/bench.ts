import { Command } from 'commander';
import { benchmarkTrainingStep, STEADY_WARMUP, type StepBenchResult } from '../bench/training-step.js';
import { getBackend } from '../kernels/index.js';
import type { NativeBackend } from '../kernels/native/index.js';
import type { GanStepPhase } from '../train/step.js';
import { choiceOption, engineOptions, setupEngine } from './options.js';
import { intOption, UsageError } from './errors.js';

interface BenchFlags {
  imageSize: number;
  channels: 1 | 3;
  batch: number;
  steps: number;
  warmupSeconds: number;
  backend?: string;
  threads?: number;
  json?: boolean;
}

const SIZES = [16, 32, 64, 128, 256] as const;

const PHASE_NAMES: Record<GanStepPhase, string> = {
  dReal: 'D on reals', generate: 'G forward', dFake: 'D on fakes', dUpdate: "D's Adam", gPass: 'G through D', gUpdate: "G's Adam",
};

/** `dcgan bench`: how fast a DCGAN trains and samples here, with the engine this machine gets. */
export function benchCommand(): Command {
  return engineOptions(new Command('bench'))
    .description('time a DCGAN training step and generator inference on this machine (synthetic data)')
    .option('--image-size <n>', 'image size (power of two, 16 to 256)', choiceOption('--image-size', SIZES.map(String)), '64')
    .option('--channels <n>', '1 or 3', choiceOption('--channels', ['1', '3']), '3')
    .option('--batch <n>', 'batch size', intOption('--batch', 2), 64)
    .option('--steps <n>', 'timed steps (the median is reported)', intOption('--steps', 1), 5)
    .option('--warmup-seconds <s>', `untimed steps first, until this many seconds have passed (at least ${STEADY_WARMUP.warmup} steps, at most ${STEADY_WARMUP.maxWarmup}): Node compiles its JavaScript over the first steps`, intOption('--warmup-seconds', 0), STEADY_WARMUP.warmupSeconds)
    .option('--json', 'print one JSON object')
    .action((raw: Omit<BenchFlags, 'imageSize' | 'channels'> & { imageSize: string; channels: string }) => {
      const flags: BenchFlags = { ...raw, imageSize: Number(raw.imageSize), channels: Number(raw.channels) as 1 | 3 };
      const engine = setupEngine(flags.backend, flags.threads);
      if (!flags.json) {
        process.stderr.write(`dcgan bench: ${flags.imageSize}×${flags.imageSize}×${flags.channels}, batch ${flags.batch}, backend ${engine.summary}\n`);
      }
      if (engine.hint !== null) process.stderr.write(`note: ${engine.hint}\n`);
      let result: StepBenchResult;
      try {
        result = benchmarkTrainingStep({ ...STEADY_WARMUP, imageSize: flags.imageSize, channels: flags.channels, batch: flags.batch, steps: flags.steps, warmupSeconds: flags.warmupSeconds });
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
      }
      // The machine's FMA peak at the step's thread count (about 0.3 s; the probe is in the native addon).
      const backend = getBackend();
      const peak = backend.name === 'native' ? (backend as NativeBackend).fmaPeak({ threads: result.threads }) : null;
      const fraction = peak ? result.effectiveGflops / peak.gflops : null;
      if (flags.json) {
        console.log(JSON.stringify(peak ? { ...result, fmaPeakGflops: +peak.gflops.toFixed(1), fmaPeakIsa: peak.isa, fractionOfPeak: +fraction!.toFixed(3) } : result));
        return;
      }
      const threads = `${result.threads} thread${result.threads > 1 ? 's' : ''}`;
      console.log(
        [
          `training step      ${result.stepMs} ms  (${result.imagesPerSec} images/s, ≈${result.effectiveGflops} GFLOP/s in the convolutions; median of ${flags.steps} after ${result.warmupSteps} untimed)`,
          `generator forward  ${result.inferenceMs} ms  (${result.inferenceImagesPerSec} images/s)`,
          `peak memory        ${result.peakRssMiB} MiB resident; tensors ${result.peakTensorMiB} MiB at most, by part of the step:`,
          `                   ${Object.entries(result.peakTensorMiBByPhase).map(([phase, mib]) => `${PHASE_NAMES[phase as GanStepPhase]} ${mib}`).join(' · ')} MiB`,
          ...(peak ? [`FMA peak           ${peak.gflops.toFixed(0)} GFLOP/s measured (${threads}, ${peak.isa}): the step's convolutions run at ${(100 * fraction!).toFixed(0)}% of it`] : []),
        ].join('\n'),
      );
      if (engine.backend === 'js') console.log('note: the js reference backend is slow; the wasm backend needs WebAssembly SIMD and threads (Node ≥ 20 has both)');
    });
}
