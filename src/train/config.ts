/**
 * The settings of a training run: the model (DcganConfig) plus data and optimisation. They are
 * written to config.json and into every checkpoint; a resumed run must agree with them on
 * everything that shapes the trajectory (RESUME_FIXED_KEYS).
 */
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/common.js';
import { DcganConfigError, pickDcganConfig, resolveDcganConfig, type DcganConfig } from '../models/dcgan.js';

export interface TrainConfig extends DcganConfig {
  /** 'shapes' | 'mnist' | 'fashion-mnist' | 'cifar10' | an image folder. */
  data: string;
  /** Where mnist / fashion-mnist / cifar10 files live (null: the dataset's default place). */
  dataRoot: string | null;
  /** Image folders: images larger than this many pixels are skipped (read from their headers before decoding). */
  maxImagePixels: number;
  batchSize: number;
  /** Adam learning rate (both networks, unless lrD is set). */
  lr: number;
  /** The discriminator's learning rate when it differs from G's (two time-scale update rule); 0: the same as lr. */
  lrD: number;
  /** Adam β1 (β2 is 0.999). */
  beta1: number;
  beta2: number;
  /** One-sided label smoothing: D's target for real images is 1 − labelSmoothing. */
  labelSmoothing: number;
  /** β of the generator average (an exponential moving average of G's weights); 0: none. */
  ema: number;
  /** Train a class-conditional DCGAN on the data's labels (numClasses and classes then follow from the data). */
  conditional: boolean;
  /** The class names of a conditional run, recorded from its data (absent otherwise). */
  classes?: readonly string[];
  /** Seeds the weights, the noise, the fixed noise, the built-in data and the data order. */
  seed: number;
  /** Total training steps (one D and one G update each). */
  steps: number;
  /** Write a sample grid every this many steps (0: only at the end). */
  sampleEvery: number;
  /** Write the checkpoint every this many steps (0: only at the end). */
  checkpointEvery: number;
  /** Measure sample quality (dcgan eval's local FID, KID, precision/recall) every this many steps and at the end (0: never). */
  evalEvery: number;
  /** Generated (and real) images per such measurement. */
  evalSamples: number;
  /** Number of fixed-noise samples in each grid. */
  sampleCount: number;
}

/**
 * The defaults of `dcgan train` with no options: 32×32 RGB shapes with a small DCGAN
 * (ngf = 32, ndf = 16, batch 64, 4000 steps, Adam lr 8e-4, one-sided label smoothing 0.1),
 * sized to finish in minutes on two cores (the README has the measured times). A generator
 * wider than the discriminator and the smoothed real label keep D from winning outright early
 * (with ngf = ndf = 16 D's loss stayed low and the grid stayed blobs); the edges come from G's
 * width. Four times the paper's learning rate suits a run this short: over three seeds the
 * shapes' median fid_local went from 17.1 (2e-4) to 10.4 (4e-4) to 6.5 (8e-4), and an average
 * of G (--ema 0.999) did not lower it further (6.9); on Fashion-MNIST at pytorch/examples'
 * settings 8e-4 helped as well (BENCHMARKS.md).
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
  maxImagePixels: DEFAULT_MAX_IMAGE_PIXELS,
  batchSize: 64,
  lr: 8e-4,
  lrD: 0,
  beta1: 0.5,
  beta2: 0.999,
  labelSmoothing: 0.1,
  ema: 0,
  conditional: false,
  seed: 0,
  steps: 4000,
  sampleEvery: 200,
  checkpointEvery: 500,
  evalEvery: 0,
  evalSamples: 2000,
  sampleCount: 64,
});

/** The TrainConfig fields a user sets (numClasses and classes follow from the data). */
export type SettingKey = Exclude<keyof TrainConfig, 'numClasses' | 'classes'>;

/** How one TrainConfig field is given, checked and treated on resume. */
export interface SettingSpec {
  /** The field's name in messages from resolveTrainConfig ("learning rate"). */
  label: string;
  /**
   * Its `dcgan train` option, `--<kebab-case field name> <value>` (--batch-size for batchSize),
   * with its help text; null where the field has no flag (set through the API).
   */
  cli: { value: string; help: string } | null;
  /** int: integers ≥ min; number: finite numbers passing `check` (described by `range`); choice: one of `choices`; text: any non-empty string; flag: a switch (true when given). */
  type: 'int' | 'number' | 'choice' | 'text' | 'flag';
  min?: number;
  check?: (v: number) => boolean;
  range?: string;
  choices?: readonly (string | number)[];
  /** A resumed run must keep the checkpoint's value (it shapes the trajectory). */
  fixedOnResume: boolean;
}

const unit = (v: number): boolean => v >= 0 && v < 1;

/**
 * Every TrainConfig field: its flag, its check, its resume rule. The CLI builds `dcgan train`'s
 * options from this table, so a new field is a line here (and in TrainConfig and the defaults).
 * The run length (steps, or --epochs) has flags of its own in the CLI: it depends on the data.
 */
export const TRAIN_SETTINGS: { readonly [K in SettingKey]: SettingSpec } = {
  data: { label: 'data', cli: { value: '<name|dir>', help: 'dataset: shapes, mnist, fashion-mnist, cifar10, or a folder of PNG/JPEG images' }, type: 'text', fixedOnResume: true },
  dataRoot: { label: 'data root', cli: { value: '<dir>', help: 'where the mnist / fashion-mnist / cifar10 files are (default: their usual place)' }, type: 'text', fixedOnResume: true },
  maxImagePixels: {
    label: 'max image pixels',
    cli: { value: '<n>', help: 'image folders: skip images larger than this many pixels (width × height), read from their headers before decoding' },
    type: 'int',
    min: 1,
    fixedOnResume: true,
  },
  imageSize: { label: 'image size', cli: { value: '<n>', help: 'image height and width: a power of two from 16 to 256' }, type: 'int', min: 1, fixedOnResume: true },
  channels: { label: 'channels', cli: { value: '<1|3>', help: 'image channels: 1 (grey) or 3 (RGB)' }, type: 'choice', choices: [1, 3], fixedOnResume: true },
  nz: { label: 'nz', cli: { value: '<n>', help: 'length of the latent vector z' }, type: 'int', min: 1, fixedOnResume: true },
  ngf: { label: 'ngf', cli: { value: '<n>', help: 'generator width' }, type: 'int', min: 1, fixedOnResume: true },
  ndf: { label: 'ndf', cli: { value: '<n>', help: 'discriminator width' }, type: 'int', min: 1, fixedOnResume: true },
  projection: {
    label: 'projection',
    cli: { value: '<conv|linear>', help: "how z becomes the first 4×4 volume: 'conv' (pytorch/examples) or 'linear' (the paper)" },
    type: 'choice',
    choices: ['conv', 'linear'],
    fixedOnResume: true,
  },
  batchSize: { label: 'batch size', cli: { value: '<n>', help: 'images per step' }, type: 'int', min: 1, fixedOnResume: true },
  lr: { label: 'learning rate', cli: { value: '<rate>', help: 'Adam learning rate of both networks' }, type: 'number', check: (v) => v > 0, range: 'a positive number', fixedOnResume: true },
  lrD: {
    label: 'lr-d',
    cli: { value: '<rate>', help: "the discriminator's learning rate when it should differ from G's (two time-scale updates, e.g. --lr 1e-4 --lr-d 4e-4); 0: the same as --lr" },
    type: 'number',
    check: (v) => v >= 0,
    range: 'a non-negative number',
    fixedOnResume: true,
  },
  beta1: { label: 'beta1', cli: { value: '<b>', help: "Adam's β1" }, type: 'number', check: unit, range: 'in [0, 1)', fixedOnResume: true },
  beta2: { label: 'beta2', cli: null, type: 'number', check: unit, range: 'in [0, 1)', fixedOnResume: true },
  labelSmoothing: {
    label: 'label smoothing',
    cli: { value: '<s>', help: "one-sided label smoothing: D's target for real images is 1 − s" },
    type: 'number',
    check: unit,
    range: 'in [0, 1)',
    fixedOnResume: true,
  },
  ema: {
    label: 'ema',
    cli: { value: '<β>', help: "keep an average of G's weights, θ̄ ← β·θ̄ + (1 − β)·θ (e.g. 0.999), used for samples and eval; 0: none" },
    type: 'number',
    check: unit,
    range: 'in [0, 1)',
    fixedOnResume: true,
  },
  conditional: {
    label: 'conditional',
    cli: { value: '', help: "a class-conditional DCGAN on the data's labels (shapes, mnist, fashion-mnist, cifar10, or an image folder whose subfolders are the classes)" },
    type: 'flag',
    fixedOnResume: true,
  },
  seed: { label: 'seed', cli: { value: '<n>', help: 'seed of the weights, noise, built-in data and data order' }, type: 'int', min: 0, fixedOnResume: true },
  steps: { label: 'steps', cli: null, type: 'int', min: 1, fixedOnResume: false },
  sampleEvery: { label: 'sample-every', cli: { value: '<n>', help: 'write a sample grid every n steps (0: only at the end)' }, type: 'int', min: 0, fixedOnResume: false },
  checkpointEvery: { label: 'checkpoint-every', cli: { value: '<n>', help: 'write the checkpoint every n steps (0: only at the end)' }, type: 'int', min: 0, fixedOnResume: false },
  evalEvery: {
    label: 'eval-every',
    cli: { value: '<n>', help: "measure sample quality (dcgan eval's local FID, KID, precision/recall) every n steps and at the end, into metrics.jsonl and the report (0: never)" },
    type: 'int',
    min: 0,
    fixedOnResume: false,
  },
  evalSamples: { label: 'eval-samples', cli: { value: '<n>', help: 'images per --eval-every measurement' }, type: 'int', min: 2, fixedOnResume: false },
  sampleCount: { label: 'sample count', cli: null, type: 'int', min: 1, fixedOnResume: true },
};

export const TRAIN_SETTING_KEYS = Object.keys(TRAIN_SETTINGS) as SettingKey[];

/** Settings that must match the checkpoint when resuming (the rest may change, e.g. a longer --steps). */
export const RESUME_FIXED_KEYS: readonly SettingKey[] = TRAIN_SETTING_KEYS.filter((key) => TRAIN_SETTINGS[key].fixedOnResume);

/** The flag of a setting: --batch-size for batchSize. */
export function settingFlag(key: SettingKey): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** An invalid training setting; the message is one line meant for the user. */
export class TrainConfigError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'TrainConfigError';
  }
}

function describeRange(spec: SettingSpec): string {
  switch (spec.type) {
    case 'int':
      return `an integer ≥ ${spec.min ?? 0}`;
    case 'number':
      return spec.range ?? 'a number';
    case 'choice':
      return (spec.choices ?? []).map(String).join(' or ');
    case 'text':
      return 'a non-empty text';
    case 'flag':
      return 'true or false';
  }
}

function accepts(spec: SettingSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= (spec.min ?? 0);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && (spec.check?.(value) ?? true);
    case 'choice':
      return (spec.choices ?? []).includes(value as string | number);
    case 'text':
      return typeof value === 'string' && value !== '';
    case 'flag':
      return typeof value === 'boolean';
  }
}

/** Parses a setting's command-line text, naming the flag in the error. */
export function parseSetting(key: SettingKey, raw: string): TrainConfig[typeof key] {
  const spec = TRAIN_SETTINGS[key];
  let value: unknown = raw;
  if (spec.type === 'int' || spec.type === 'number') value = raw.trim() === '' ? NaN : Number(raw);
  else if (spec.type === 'flag') value = raw === 'true' ? true : raw === 'false' ? false : raw;
  else if (spec.type === 'choice') value = spec.choices?.find((c) => String(c) === raw);
  if (!accepts(spec, value)) throw new TrainConfigError(`${settingFlag(key)} must be ${describeRange(spec)}, got '${raw}'`);
  return value as TrainConfig[typeof key];
}

function checked<K extends SettingKey>(key: K, value: unknown): TrainConfig[K] {
  const spec = TRAIN_SETTINGS[key];
  if (!accepts(spec, value)) throw new TrainConfigError(`${spec.label} must be ${describeRange(spec)}, got ${String(value)}`);
  return value as TrainConfig[K];
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
  const out: Record<string, unknown> = {};
  for (const key of TRAIN_SETTING_KEYS) {
    out[key] = key in model ? model[key as keyof DcganConfig] : key === 'data' || key === 'dataRoot' ? c[key] : checked(key, c[key]);
  }
  // A conditional run's classes, once its data has been opened (see withClasses).
  if (model.numClasses !== undefined) {
    if (c.conditional !== true) throw new TrainConfigError(`numClasses ${model.numClasses} is given but the run is not conditional`);
    const classes = c.classes;
    if (!Array.isArray(classes) || classes.length !== model.numClasses || !classes.every((n) => typeof n === 'string')) {
      throw new TrainConfigError(`classes must be ${model.numClasses} class names, got ${JSON.stringify(classes ?? null)}`);
    }
    out['numClasses'] = model.numClasses;
    out['classes'] = [...classes];
  }
  return out as unknown as TrainConfig;
}

/** A conditional config completed with its data's class names (numClasses follows). */
export function withClasses(config: TrainConfig, classes: readonly string[]): TrainConfig {
  return resolveTrainConfig({ ...config, numClasses: classes.length, classes: [...classes] });
}

/** The discriminator's learning rate: lrD where set, otherwise lr. */
export function discriminatorLr(config: TrainConfig): number {
  return config.lrD > 0 ? config.lrD : config.lr;
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
