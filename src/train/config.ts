/**
 * The settings of a training run: the model (DcganConfig) plus data and optimisation. They are
 * written to config.json and into every checkpoint; a resumed run must agree with them on
 * everything that shapes the trajectory (RESUME_FIXED_KEYS).
 */
import { DcganConfigError, pickDcganConfig, resolveDcganConfig, type DcganConfig } from '../models/dcgan.js';

export interface TrainConfig extends DcganConfig {
  /** 'shapes' | 'mnist' | 'fashion-mnist' | 'cifar10' | an image folder. */
  data: string;
  /** Where mnist / fashion-mnist / cifar10 files live (null: the dataset's default place). */
  dataRoot: string | null;
  batchSize: number;
  /** Adam learning rate (both networks). */
  lr: number;
  /** Adam β1 (β2 is 0.999). */
  beta1: number;
  beta2: number;
  /** One-sided label smoothing: D's target for real images is 1 − labelSmoothing. */
  labelSmoothing: number;
  /** Seeds the weights, the noise, the fixed noise, the built-in data and the data order. */
  seed: number;
  /** Total training steps (one D and one G update each). */
  steps: number;
  /** Write a sample grid every this many steps (0: only at the end). */
  sampleEvery: number;
  /** Write the checkpoint every this many steps (0: only at the end). */
  checkpointEvery: number;
  /** Number of fixed-noise samples in each grid. */
  sampleCount: number;
}

/**
 * The defaults of `dcgan train` with no options: 32×32 RGB shapes with a small DCGAN
 * (ngf = 32, ndf = 16, batch 64, 2000 steps, one-sided label smoothing 0.1), sized to finish
 * in under 10 minutes on two cores with the wasm backend. A generator wider than the
 * discriminator and the smoothed real label keep D from winning outright early (with
 * ngf = ndf = 16 D's loss sat near 0.1 and the grid stayed blobs); the edges come from G's width.
 */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  imageSize: 32,
  channels: 3,
  nz: 100,
  ngf: 32,
  ndf: 16,
  projection: 'conv',
  data: 'shapes',
  dataRoot: null,
  batchSize: 64,
  lr: 2e-4,
  beta1: 0.5,
  beta2: 0.999,
  labelSmoothing: 0.1,
  seed: 0,
  steps: 2000,
  sampleEvery: 200,
  checkpointEvery: 500,
  sampleCount: 64,
});

/** Settings that must match the checkpoint when resuming (the rest may change, e.g. a longer --steps). */
export const RESUME_FIXED_KEYS = [
  'imageSize',
  'channels',
  'nz',
  'ngf',
  'ndf',
  'projection',
  'data',
  'dataRoot',
  'batchSize',
  'lr',
  'beta1',
  'beta2',
  'labelSmoothing',
  'seed',
  'sampleCount',
] as const satisfies ReadonlyArray<keyof TrainConfig>;

/** An invalid training setting; the message is one line meant for the user. */
export class TrainConfigError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'TrainConfigError';
  }
}

function int(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TrainConfigError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function real(name: string, value: unknown, check: (v: number) => boolean, range: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new TrainConfigError(`${name} must be ${range}, got ${String(value)}`);
  }
  return value;
}

/** Fills in defaults and validates every field. */
export function resolveTrainConfig(partial: Partial<TrainConfig> = {}): TrainConfig {
  const c = { ...DEFAULT_TRAIN_CONFIG, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as TrainConfig;
  let model: DcganConfig;
  try {
    model = resolveDcganConfig(c);
  } catch (error) {
    if (error instanceof DcganConfigError) throw new TrainConfigError(error.message);
    throw error;
  }
  if (typeof c.data !== 'string' || c.data === '') throw new TrainConfigError('data must name a dataset or an image folder');
  if (c.dataRoot !== null && typeof c.dataRoot !== 'string') throw new TrainConfigError('dataRoot must be a path or null');
  return {
    ...model,
    data: c.data,
    dataRoot: c.dataRoot,
    batchSize: int('batch size', c.batchSize, 1),
    lr: real('learning rate', c.lr, (v) => v > 0, 'a positive number'),
    beta1: real('beta1', c.beta1, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    beta2: real('beta2', c.beta2, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    labelSmoothing: real('label smoothing', c.labelSmoothing, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    seed: int('seed', c.seed, 0),
    steps: int('steps', c.steps, 1),
    sampleEvery: int('sample-every', c.sampleEvery, 0),
    checkpointEvery: int('checkpoint-every', c.checkpointEvery, 0),
    sampleCount: int('sample count', c.sampleCount, 1),
  };
}

export function modelConfig(config: TrainConfig): DcganConfig {
  return pickDcganConfig(config);
}

/**
 * Keys whose values differ between a checkpoint's config and the settings asked for now,
 * e.g. `imageSize (checkpoint 32, requested 16)`; an empty list when they agree.
 */
export function configDifferences(saved: Readonly<Record<string, unknown>>, requested: Readonly<Record<string, unknown>>, keys: readonly string[] = Object.keys(requested)): string[] {
  const out: string[] = [];
  for (const key of keys) {
    if (!(key in requested)) continue;
    const a = saved[key];
    const b = requested[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${key} (checkpoint ${JSON.stringify(a ?? null)}, requested ${JSON.stringify(b ?? null)})`);
  }
  return out;
}
