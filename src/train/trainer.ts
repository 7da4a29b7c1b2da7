/**
 * The trainer: data, models, optimizers and randomness of a run, and its steps (the GAN step
 * itself is step.ts). Each step runs inside `tidy`, so its activations and temporary
 * gradients are freed when it ends and memory stays flat however long the run.
 *
 * Everything random comes from one Generator seeded with `config.seed` — the initial weights
 * (G, then D), the fixed noise of the sample grids, then the noise of each step — and the data
 * order from the loader's (seed, epoch, batch) position, so a checkpoint that holds the
 * generator state and the loader position resumes the exact same trajectory.
 */
import type { ImageDataset } from '../data/common.js';
import { DataLoader } from '../data/loader.js';
import { noGrad } from '../autograd/mode.js';
import { fillNormal, randn, tensor } from '../ops/create.js';
import { Adam } from '../optim/adam.js';
import { keep, tidy } from '../tensor/scope.js';
import { beginStep } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { DcganDiscriminator, DcganGenerator } from '../models/dcgan.js';
import type { ImageBatch } from '../io/png.js';
import { convolutionChoices } from '../ops/conv-algorithm.js';
import { restoreCheckpoint, type CheckpointState, type LoadedCheckpoint } from './checkpoint-format.js';
import { discriminatorLr, modelConfig, withClasses, type TrainConfig } from './config.js';
import { ganStep, type GanStepLosses } from './step.js';
import { WeightAverage } from './ema.js';
import { recomputeBatchNormStatistics } from '../nn/batchnorm.js';

/** Noise images whose activations give the generator average its BatchNorm statistics. */
export const AVERAGE_STATISTICS_IMAGES = 1024;

/** What one step measured: the losses and D's outputs (GanStepLosses), and where and how fast. */
export interface StepMetrics extends GanStepLosses {
  /** Steps completed, counting this one (1-based). */
  step: number;
  /** Epoch of the batch this step used (0-based). */
  epoch: number;
  /** Images per second of this step (batch size / step time). */
  imagesPerSec: number;
  /** Training seconds since the run began (summed over resumes). */
  time: number;
}

/** The losses became NaN or infinite; the step's updates were not applied past that point. */
export class DivergenceError extends Error {
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
    this.name = 'DivergenceError';
  }
}

export interface TrainerOptions {
  /** The training images: `config.data` opened (runTraining does it), or any ImageDataset (tests, embedding, browsers). */
  dataset: ImageDataset;
  /**
   * Continue from this checkpoint (its config must describe the same model). Its tensor data
   * is released once restored (its metadata stays), so a long run does not keep a second copy.
   */
  resume?: LoadedCheckpoint;
  onWarning?: (message: string) => void;
}

export class GanTrainer {
  /** Steps completed. */
  step = 0;
  /** Epoch of the last batch used. */
  epoch = 0;
  /** Training seconds in earlier sessions of this run (before a resume). */
  private previousSeconds = 0;
  private sessionSeconds = 0;

  private constructor(
    readonly config: TrainConfig,
    readonly dataset: ImageDataset,
    readonly loader: DataLoader,
    readonly netG: DcganGenerator,
    readonly netD: DcganDiscriminator,
    readonly optG: Adam,
    readonly optD: Adam,
    readonly rng: Generator,
    readonly fixedNoise: Tensor,
    /** The classes of the grids' images, for a conditional run. */
    readonly fixedLabels: readonly number[] | null,
    /** The generator average, when config.ema > 0. */
    readonly average: WeightAverage | null,
  ) {}

  /** The averaged generator's module, or null. */
  get netGEma(): DcganGenerator | null {
    return (this.average?.average as DcganGenerator | undefined) ?? null;
  }

  /** The step whose averaged weights the average's BatchNorm statistics were computed for. */
  private averageStatisticsStep = -1;

  /**
   * The generator to sample from: the average (when the run keeps one), its BatchNorm running
   * statistics recomputed for its current weights — over AVERAGE_STATISTICS_IMAGES noise images
   * in batches of the training batch size, drawn from a generator seeded by the run's seed and
   * the step, so a resumed run computes the same numbers — else G.
   */
  samplingGenerator(): DcganGenerator {
    const average = this.netGEma;
    if (average === null) return this.netG;
    if (this.averageStatisticsStep !== this.step) {
      const { batchSize, nz, seed, numClasses } = this.config;
      const rng = new Generator((this.step % 2 ** 20) * 2 ** 32 + (seed >>> 0));
      const labels = numClasses === undefined ? undefined : Array.from({ length: batchSize }, (_, i) => i % numClasses);
      const batches = Math.max(1, Math.ceil(AVERAGE_STATISTICS_IMAGES / batchSize));
      recomputeBatchNormStatistics(average, batches, () => tidy(() => void average.forward(randn([batchSize, nz, 1, 1], { generator: rng }), labels)));
      this.averageStatisticsStep = this.step;
    }
    return average;
  }

  static async create(config: TrainConfig, options: TrainerOptions): Promise<GanTrainer> {
    const { dataset } = options;
    if (config.conditional) {
      if (!Array.isArray(dataset.classes) || dataset.classes.length < 2 || typeof dataset.label !== 'function') {
        throw new RangeError(`--conditional needs class labels, and the data set ${dataset.name} has none (labelled: shapes, mnist, fashion-mnist, cifar10, an image folder with one subfolder per class)`);
      }
      config = withClasses(config, dataset.classes);
    }
    if (dataset.imageSize !== config.imageSize || dataset.channels !== config.channels) {
      throw new RangeError(`dataset ${dataset.name} yields ${dataset.channels}×${dataset.imageSize}×${dataset.imageSize} images, the model expects ${config.channels}×${config.imageSize}×${config.imageSize}`);
    }
    const loader = new DataLoader(dataset, { batchSize: config.batchSize, shuffle: true, seed: config.seed, dropLast: true });
    const rng = new Generator(config.seed);
    const model = modelConfig(config);
    const netG = new DcganGenerator(model, { generator: rng });
    const netD = new DcganDiscriminator(model, { generator: rng });
    const betas = [config.beta1, config.beta2] as const;
    const optG = new Adam(netG.parameters(), { lr: config.lr, betas });
    const optD = new Adam(netD.parameters(), { lr: discriminatorLr(config), betas });
    const fixedNoise = keep(randn([config.sampleCount, config.nz, 1, 1], { generator: rng }));
    // A conditional run's grids: image i shows class i mod K (with K per row, a class per column).
    const fixedLabels = config.numClasses === undefined ? null : Array.from({ length: config.sampleCount }, (_, i) => i % config.numClasses!);
    const average = config.ema > 0 ? new WeightAverage(netG, new DcganGenerator(model), config.ema) : null;
    const trainer = new GanTrainer(config, dataset, loader, netG, netD, optG, optD, rng, fixedNoise, fixedLabels, average);
    if (options.resume) trainer.restore(options.resume);
    return trainer;
  }

  /** Loads the whole training state of a checkpoint. */
  private restore(checkpoint: LoadedCheckpoint): void {
    restoreCheckpoint(checkpoint, this, { release: true });
    // This run's settings win over the saved hyperparameters (they are checked to agree on resume).
    for (const opt of [this.optG, this.optD]) {
      opt.lr = opt === this.optD ? discriminatorLr(this.config) : this.config.lr;
      opt.beta1 = this.config.beta1;
      opt.beta2 = this.config.beta2;
    }
    this.rng.setState(checkpoint.rng);
    this.loader.restore(checkpoint.loader);
    this.step = checkpoint.step;
    this.epoch = checkpoint.epoch;
    this.previousSeconds = checkpoint.elapsedSeconds;
    // The checkpoint's average holds statistics computed for its weights at this step.
    this.averageStatisticsStep = this.step;
  }

  /** Training seconds so far, over every session of this run. */
  get elapsedSeconds(): number {
    return this.previousSeconds + this.sessionSeconds;
  }

  get batchesPerEpoch(): number {
    return this.loader.batchesPerEpoch;
  }

  /**
   * One D update and one G update. Throws DivergenceError (before the offending optimizer
   * step) when a loss is NaN or infinite.
   */
  trainStep(): StepMetrics {
    const started = performance.now();
    const { rng, config } = this;
    const stepNumber = this.step + 1;
    beginStep();
    const result = tidy(() => {
      const { images: real, epoch, indices } = this.loader.next();
      const batch = real.shape[0]!;
      const noise = randn([batch, config.nz, 1, 1], { generator: rng });
      const labels = this.batchLabels(indices);
      const checkLoss = (name: string, value: number): void => {
        if (!Number.isFinite(value)) throw new DivergenceError(`training diverged at step ${stepNumber}: ${name} is ${value}`, stepNumber);
      };
      return { epoch, batch, ...ganStep(this, real, noise, { realLabel: 1 - config.labelSmoothing, checkLoss, labels }) };
    });
    const seconds = (performance.now() - started) / 1000;
    this.average?.update(stepNumber);
    this.sessionSeconds += seconds;
    this.step = stepNumber;
    this.epoch = result.epoch;
    return {
      step: stepNumber,
      epoch: result.epoch,
      lossD: result.lossD,
      lossG: result.lossG,
      D_x: result.D_x,
      D_G_z1: result.D_G_z1,
      D_G_z2: result.D_G_z2,
      imagesPerSec: result.batch / Math.max(seconds, 1e-9),
      time: this.elapsedSeconds,
    };
  }

  /** A conditional run's labels for a batch: the real images' classes, and uniformly drawn classes for G. */
  private batchLabels(indices: readonly number[]): { real: number[]; fake: number[] } | undefined {
    const classes = this.config.numClasses;
    if (classes === undefined) return undefined;
    const real = indices.map((i) => this.dataset.label!(i));
    const fake = indices.map(() => Math.min(classes - 1, Math.floor(this.rng.nextFloat() * classes)));
    return { real, fake };
  }

  /**
   * G's images for some noise (default: the fixed noise, with the fixed labels of a conditional
   * run), in eval mode and without side effects — from the generator average when the run
   * keeps one. The caller disposes.
   */
  sample(noise: Tensor = this.fixedNoise, labels: readonly number[] | undefined = noise === this.fixedNoise ? (this.fixedLabels ?? undefined) : undefined): Tensor {
    return generate(this.samplingGenerator(), noise, labels);
  }

  /** A real batch straight from the dataset (images 0…n−1), without moving the loader. */
  realSamples(n = this.config.sampleCount): Tensor {
    const count = Math.min(n, this.dataset.length);
    const { channels, imageSize } = this.dataset;
    const per = channels * imageSize * imageSize;
    const data = new Float32Array(count * per);
    for (let i = 0; i < count; i++) this.dataset.read(i, data, i * per);
    return tensor(data, [count, channels, imageSize, imageSize]);
  }

  /** The state a checkpoint stores (the generator average with statistics for its weights). */
  checkpointState(): CheckpointState {
    this.samplingGenerator();
    return {
      config: { ...this.config },
      netG: this.netG,
      netD: this.netD,
      optG: this.optG,
      optD: this.optD,
      step: this.step,
      epoch: this.epoch,
      elapsedSeconds: this.elapsedSeconds,
      loader: this.loader.state(),
      rng: this.rng.getState(),
      fixedNoise: this.fixedNoise,
      netGEma: this.netGEma,
      convolutions: convolutionChoices(),
    };
  }

  /** Frees the fixed noise (parameters live as long as the modules). */
  dispose(): void {
    this.fixedNoise.dispose();
  }
}

/**
 * Runs a generator in eval mode (BatchNorm uses its running statistics) under noGrad and
 * restores its mode: sampling never changes the model, so it cannot perturb training.
 */
export function generate(netG: DcganGenerator, noise: Tensor, labels?: readonly number[]): Tensor {
  const wasTraining = netG.training;
  netG.eval();
  try {
    return tidy(() => noGrad(() => netG.forward(noise, labels)));
  } finally {
    netG.train(wasTraining);
  }
}

/**
 * `n` images from `netG`, generated `batchSize` at a time into one float array, so the engine
 * only ever holds one batch's activations (all n at once needed gigabytes for n = 5000). The
 * noise is drawn in order from one generator, so the images are those of a single batch of n;
 * `labels` gives a conditional generator each image's class.
 */
export function generateInBatches(netG: DcganGenerator, n: number, batchSize: number, generator: Generator, labels?: readonly number[]): ImageBatch {
  const { nz } = netG.config;
  const latents = new Float32Array(n * nz);
  fillNormal(latents, generator);
  return generateFromLatents(netG, latents, batchSize, labels);
}

/** The images of given latent vectors (n × nz values), `batchSize` at a time. */
export function generateFromLatents(netG: DcganGenerator, latents: Float32Array, batchSize: number, labels?: readonly number[]): ImageBatch {
  const { nz, imageSize, channels } = netG.config;
  const n = latents.length / nz;
  const per = channels * imageSize * imageSize;
  const data = new Float32Array(n * per);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    tidy(() => {
      const images = generate(netG, tensor(latents.subarray(start * nz, (start + count) * nz), [count, nz, 1, 1]), labels?.slice(start, start + count));
      data.set(images.data, start * per);
    });
  }
  return { shape: [n, channels, imageSize, imageSize], data };
}
