/**
 * Times a full DCGAN training step (the trainer's own ganStep: D on a real and a detached fake
 * batch, then G with the non-saturating loss, Adam on both) and generator inference, on
 * synthetic data so that the peer (bench/peers/pytorch_dcgan.py) does exactly the same work.
 */
import { noGrad } from '../autograd/mode.js';
import { getBackend, getBackendName } from '../kernels/registry.js';
import { dcganDiscriminator, dcganGenerator, type DcganConfig } from '../models/dcgan.js';
import { randn, uniform } from '../ops/create.js';
import { Adam } from '../optim/adam.js';
import { Generator } from '../tensor/random.js';
import { beginStep, memory, resetPeakMemory } from '../tensor/memory.js';
import { keep, tidy } from '../tensor/scope.js';
import { GAN_STEP_PHASES, ganStep, type GanStepPhase } from '../train/step.js';

export interface StepBenchOptions {
  imageSize: number;
  channels: 1 | 3;
  batch: number;
  nz?: number;
  ngf?: number;
  ndf?: number;
  steps?: number;
  /** Untimed steps first: at least this many (default 2)… */
  warmup?: number;
  /** …and more until this many seconds of them have passed (default 0)… */
  warmupSeconds?: number;
  /** …but no more than this many (default 25). See warmupDone. */
  maxWarmup?: number;
}

export interface StepBenchResult {
  backend: string;
  threads: number;
  imageSize: number;
  channels: number;
  batch: number;
  stepMs: number;
  imagesPerSec: number;
  /** Multiply-adds of the step's convolutions ×2, per second (see trainingStepFlops). */
  effectiveGflops: number;
  inferenceMs: number;
  inferenceImagesPerSec: number;
  /** The operating system's peak resident set of the process (getrusage's maxrss). */
  peakRssMiB: number;
  /** The most tensor data alive at once during the timed steps. */
  peakTensorMiB: number;
  /** The same, for each part of the step (see GanStepOptions.onPhaseEnd): where the memory goes. */
  peakTensorMiBByPhase: Record<GanStepPhase, number>;
  /** Memory the backend's allocator holds for tensors (in use or kept for reuse). */
  tensorHeapMiB: number;
  /** Untimed steps run before the timed ones. */
  warmupSteps: number;
}

/**
 * How many untimed steps come first: at least `min`, then more until `seconds` have passed, at
 * most `max`. A new Node process compiles its hot JavaScript over its first steps, on V8's
 * threads, which take a core from the kernels' second thread (BENCHMARKS.md, seventeenth
 * session). Functions called a few times a step get hot late: at 32×32 V8 was still compiling
 * after step 25 (twenty-first session), so the time, not a count, ends the warm-up; `max` only
 * bounds it for very short steps. A training run is past that within seconds.
 * bench/peers/pytorch_dcgan.py keeps the same rule, so both sides are timed at their steady state.
 */
/** The bench's rule (`npm run bench`, `dcgan bench`): at least 2 steps, then until 8 s have passed, at most 200. */
export const STEADY_WARMUP = { warmup: 2, warmupSeconds: 8, maxWarmup: 200 } as const;

export function warmupDone(done: number, elapsedMs: number, rule: { min: number; seconds: number; max: number }): boolean {
  return done >= rule.min && (elapsedMs >= rule.seconds * 1000 || done >= rule.max);
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** FLOPs of one forward pass of each network's convolutions (2 per multiply-add). */
export function forwardFlops(config: DcganConfig, batch: number): { g: number; d: number } {
  const { imageSize, channels, nz, ngf, ndf } = config;
  const blocks = Math.log2(imageSize) - 3;
  let g = 2 * nz * ngf * 2 ** blocks * 16; // z (1×1) → 4×4
  let d = 0;
  for (let i = 0, size = 4, mult = 2 ** blocks; i <= blocks; i++, size *= 2, mult /= 2) {
    const cout = i === blocks ? channels : (ngf * mult) / 2;
    g += 2 * ngf * mult * cout * 16 * size * size; // each input pixel scatters a 4×4 kernel
  }
  for (let i = 0, size = imageSize / 2, cin: number = channels, cout = ndf; i <= blocks; i++, size /= 2, cin = cout, cout *= 2) {
    d += 2 * cin * cout * 16 * size * size;
  }
  d += 2 * ndf * 2 ** blocks * 16; // 4×4 → 1 logit
  return { g: g * batch, d: d * batch };
}

/**
 * FLOPs of a training step: D runs forward three times (real, detached fake, fake for G),
 * input gradients three times and weight gradients twice (D is frozen in G's pass, see
 * src/train/step.ts), each about a forward's work; G runs forward and backward once. An
 * estimate that counts the convolutions only.
 */
export function trainingStepFlops(config: DcganConfig, batch: number): number {
  const { g, d } = forwardFlops(config, batch);
  return 8 * d + 3 * g;
}

export function benchmarkTrainingStep(options: StepBenchOptions): StepBenchResult {
  const { imageSize, channels, batch, steps = 5, warmup = 2 } = options;
  const config: DcganConfig = { imageSize, channels: channels as 1 | 3, nz: options.nz ?? 100, ngf: options.ngf ?? 64, ndf: options.ndf ?? 64, projection: 'conv' };
  const generator = new Generator(0);
  const netG = dcganGenerator(config, { generator });
  const netD = dcganDiscriminator(config, { generator });
  const optG = new Adam(netG.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const optD = new Adam(netD.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const real = keep(uniform([batch, channels, imageSize, imageSize], -1, 1, { generator }));

  // Each part's peak: read as it ends, then measured afresh from what is alive then.
  const phasePeaks = Object.fromEntries(GAN_STEP_PHASES.map((phase) => [phase, 0])) as Record<GanStepPhase, number>;
  const onPhaseEnd = (phase: GanStepPhase): void => {
    phasePeaks[phase] = Math.max(phasePeaks[phase], memory().peakBytes);
    resetPeakMemory();
  };
  const step = (): void => {
    beginStep();
    tidy(() => ganStep({ netG, netD, optG, optD }, real, randn([batch, config.nz, 1, 1], { generator }), { realLabel: 1, onPhaseEnd }));
  };

  const warmupStart = performance.now();
  const rule = { min: warmup, seconds: options.warmupSeconds ?? 0, max: Math.max(warmup, options.maxWarmup ?? STEADY_WARMUP.maxWarmup) };
  let warmupSteps = 0;
  while (!warmupDone(warmupSteps, performance.now() - warmupStart, rule)) {
    step();
    warmupSteps++;
  }
  for (const phase of GAN_STEP_PHASES) phasePeaks[phase] = 0;
  resetPeakMemory();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  // What is alive between steps counts too (tidy frees the step's tensors after gUpdate ends).
  const peakTensorBytes = Math.max(memory().peakBytes, ...Object.values(phasePeaks));

  netG.eval();
  const noise = keep(randn([batch, config.nz, 1, 1], { generator }));
  const infer: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    tidy(() => noGrad(() => netG.forward(noise)));
    if (i > 0) infer.push(performance.now() - t0);
  }
  real.dispose();
  noise.dispose();

  const stepMs = median(times);
  const inferenceMs = median(infer);
  return {
    backend: getBackendName(),
    threads: getBackend().threads ?? 1,
    imageSize,
    channels,
    batch,
    stepMs: +stepMs.toFixed(1),
    imagesPerSec: +(batch / (stepMs / 1000)).toFixed(1),
    effectiveGflops: +(trainingStepFlops(config, batch) / stepMs / 1e6).toFixed(1),
    inferenceMs: +inferenceMs.toFixed(1),
    inferenceImagesPerSec: +(batch / (inferenceMs / 1000)).toFixed(1),
    peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    peakTensorMiB: +(peakTensorBytes / 2 ** 20).toFixed(1),
    peakTensorMiBByPhase: Object.fromEntries(GAN_STEP_PHASES.map((phase) => [phase, +(phasePeaks[phase] / 2 ** 20).toFixed(1)])) as Record<GanStepPhase, number>,
    tensorHeapMiB: +((getBackend().allocator.stats?.().heapBytes ?? 0) / 2 ** 20).toFixed(1),
    warmupSteps,
  };
}
