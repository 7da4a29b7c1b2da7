/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped, in one
 * safetensors file.
 *
 * Tensors:
 *   netG.<name>, netD.<name>           the two state dicts, PyTorch names (num_batches_tracked as I64)
 *   netG_ema.<name>                    the generator average, when the run keeps one (--ema)
 *   optG.state.<i>.<key>, optD.…       Adam moments (exp_avg, exp_avg_sq) of parameter i
 *   fixed_noise                        the z behind the sample grids
 * Metadata (strings; JSON where structured):
 *   format "dcgan-ts-checkpoint", version "1", config, step, epoch, elapsed_seconds,
 *   loader (data order), rng (generator state), optG / optD (hyperparameters and step counts),
 *   and (optional) convolutions: the algorithm timed for each convolution (see convolutionChoices).
 *
 * The netG./netD. tensors alone are pytorch/examples' state dicts under a prefix, so a
 * PyTorch user can load them after stripping it. Writing streams tensor by tensor (no array
 * holds the whole file) and is atomic; reading validates the whole file — every tensor's name,
 * dtype and finiteness, every metadata field's type and range — and `restoreCheckpoint` checks
 * every expected tensor and shape against the live models before it copies anything.
 *
 * This module names no Node.js module (the browser app writes and reads checkpoints with it);
 * checkpoint.ts adds the files.
 */
import type { Module, StateDictLike, TensorLike } from '../nn/module.js';
import { isCounter, nonFiniteTensors, stateDictTensors, withoutPrefix, type NamedTensor } from '../nn/state.js';
import type { Optimizer, OptimizerStateDictLike, ParamStateLike } from '../optim/optimizer.js';
import type { GeneratorState } from '../tensor/random.js';
import { sameShape, shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { parseConvolutionChoice, restoreConvolutionChoices, type ConvolutionChoice } from '../ops/conv-algorithm.js';
import { DCGAN_CONFIG_KEYS, pickDcganConfig, resolveDcganConfig, type DcganConfig } from '../models/dcgan.js';
import type { SizedChunks } from '../io/atomic.js';
import { decodeSafetensors, safetensorsChunks, SafetensorsError, type SafetensorsFile, type TensorToWrite } from '../io/safetensors.js';

export const CHECKPOINT_FORMAT = 'dcgan-ts-checkpoint';
export const CHECKPOINT_VERSION = '1';
/** The networks and optimizers a checkpoint holds, by their prefix in the file. */
export const NETWORKS = ['netG', 'netD'] as const;
/** The generator average's prefix (present when the run keeps one). */
export const AVERAGE = 'netG_ema' as const;
export const OPTIMIZERS = { optG: 'netG', optD: 'netD' } as const;
/** The tensors Adam keeps per parameter (the trainer's optimizer). */
const ADAM_TENSORS = ['exp_avg', 'exp_avg_sq'] as const;

/** Where the data loader stands (its shuffling seed, epoch and position in the epoch). */
export interface CheckpointLoaderState {
  epoch: number;
  batchIndex: number;
  seed: number;
}

/** A JSON object of settings; it must hold the DcganConfig fields (imageSize, channels, nz, ngf, ndf, projection). */
export type CheckpointConfig = Record<string, unknown>;

/** The live objects a checkpoint is written from. */
export interface CheckpointState {
  config: CheckpointConfig;
  netG: Module;
  netD: Module;
  optG: Optimizer;
  optD: Optimizer;
  /** Completed training steps. */
  step: number;
  epoch: number;
  /** Training time so far, summed over resumes. */
  elapsedSeconds: number;
  loader: CheckpointLoaderState;
  rng: GeneratorState;
  fixedNoise: Tensor;
  /** The generator average, when the run keeps one. */
  netGEma?: Module | null;
  /** The algorithm timed for each convolution (convolutionChoices()): a resumed run keeps them, so it stays bitwise the same. */
  convolutions?: readonly ConvolutionChoice[];
}

/** A checkpoint as read back: validated plain state (tensors as read, not yet on the backend) to load into fresh modules and optimizers. */
export interface LoadedCheckpoint {
  path: string;
  config: CheckpointConfig;
  /** The model part of `config`, validated. */
  model: DcganConfig;
  /** State dicts by parameter name (objects without a prototype, so every name is a plain key). */
  netG: Readonly<Record<string, TensorLike>>;
  netD: Readonly<Record<string, TensorLike>>;
  /** The generator average's state dict, or null when the run kept none. */
  netGEma: Readonly<Record<string, TensorLike>> | null;
  optG: OptimizerStateDictLike;
  optD: OptimizerStateDictLike;
  step: number;
  epoch: number;
  elapsedSeconds: number;
  loader: CheckpointLoaderState;
  rng: GeneratorState;
  fixedNoise: TensorLike;
  /** The convolutions' timed algorithms (empty where the file has none). */
  convolutions: ConvolutionChoice[];
  /** Set once restoreCheckpoint has released the tensor data (option `release`). */
  released?: boolean;
}

/** A missing, unreadable, corrupt or mismatched checkpoint; the message is one clear line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The tensors and metadata of a checkpoint, in file order; views of the live state, not copies. Throws CheckpointError on non-finite values. */
export function checkpointEntries(state: CheckpointState): { tensors: Array<[string, TensorToWrite]>; metadata: Record<string, string> } {
  const tensors: Array<[string, NamedTensor]> = [];
  for (const name of NETWORKS) tensors.push(...stateDictTensors(state[name], `${name}.`));
  if (state.netGEma) tensors.push(...stateDictTensors(state.netGEma, `${AVERAGE}.`));
  const optMeta: Record<string, string> = {};
  for (const name of Object.keys(OPTIMIZERS) as Array<keyof typeof OPTIMIZERS>) {
    const saved = state[name].stateDict({ copy: false });
    const scalars = saved.state.map((entry, i) => {
      if (entry === null) return null;
      const numbers: Record<string, number> = {};
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value === 'number') numbers[key] = value;
        else tensors.push([`${name}.state.${i}.${key}`, { shape: value.shape, data: value.data, dtype: 'F32' }]);
      }
      return numbers;
    });
    optMeta[name] = JSON.stringify({ hyper: saved.hyper, params: saved.state.length, state: scalars });
  }
  tensors.push(['fixed_noise', { shape: state.fixedNoise.shape, data: state.fixedNoise.data, dtype: 'F32' }]);
  const bad = nonFiniteTensors(tensors);
  if (bad.length > 0) throw new CheckpointError(`refusing to write a checkpoint: ${bad.map((b) => b.replace(/ \((.*) at index (\d+)\)$/, ' holds a non-finite value ($1) at index $2')).join('; ')}`);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    config: JSON.stringify(state.config),
    step: String(state.step),
    epoch: String(state.epoch),
    elapsed_seconds: String(state.elapsedSeconds),
    loader: JSON.stringify(state.loader),
    rng: JSON.stringify(state.rng),
    ...optMeta,
  };
  if (state.convolutions !== undefined && state.convolutions.length > 0) metadata['convolutions'] = JSON.stringify(state.convolutions);
  return { tensors, metadata };
}

/** The checkpoint's safetensors bytes as chunks (header, then tensor by tensor), from views of the live state. */
export function encodeCheckpoint(state: CheckpointState): SizedChunks {
  const { tensors, metadata } = checkpointEntries(state);
  return safetensorsChunks(tensors, metadata);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates checkpoint bytes (`path` names them in messages). Every problem found
 * is reported at once, in one line: the metadata's fields (types and ranges), the tensors'
 * names, dtypes and values. Tensors stay as read (no backend memory); `restoreCheckpoint` /
 * `loadNetworks` copy them in.
 */
export function parseCheckpoint(bytes: Uint8Array, path: string): LoadedCheckpoint {
  return checkpointFromSafetensors(() => decodeSafetensors(bytes, path), path);
}

/**
 * A checkpoint from its safetensors content, validated as parseCheckpoint does; `read` gives
 * the content (its format errors become CheckpointErrors).
 */
export function checkpointFromSafetensors(read: () => SafetensorsFile, path: string): LoadedCheckpoint {
  let file;
  try {
    file = read();
  } catch (error) {
    if (error instanceof SafetensorsError) throw new CheckpointError(error.message);
    throw error;
  }
  const { tensors, metadata } = file;
  const fatal: (problem: string) => never = (problem) => {
    throw new CheckpointError(`${path} is not a usable dcgan-ts checkpoint: ${problem}`);
  };
  if (metadata['format'] !== CHECKPOINT_FORMAT) fatal(`its metadata 'format' is ${JSON.stringify(metadata['format'] ?? null)}, expected '${CHECKPOINT_FORMAT}'`);
  if (metadata['version'] !== CHECKPOINT_VERSION) fatal(`version ${JSON.stringify(metadata['version'] ?? null)} is not supported (this build reads version ${CHECKPOINT_VERSION})`);

  const problems: string[] = [];
  const json = (key: string): unknown => {
    const text = metadata[key];
    if (text === undefined) {
      problems.push(`its metadata has no '${key}'`);
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch {
      problems.push(`its metadata '${key}' is not valid JSON`);
      return undefined;
    }
  };
  const count = (key: string, integer: boolean): number => {
    const text = metadata[key];
    const n = Number(text);
    const ok = text !== undefined && text.trim() !== '' && Number.isFinite(n) && n >= 0 && (!integer || Number.isSafeInteger(n));
    if (!ok) problems.push(`its metadata '${key}' is ${JSON.stringify(text ?? null)}, not a non-negative ${integer ? 'integer' : 'number'}`);
    return ok ? n : 0;
  };

  const config = json('config');
  let model: DcganConfig | null = null;
  if (config !== undefined) {
    if (!isObject(config)) fatal("its metadata 'config' is not an object");
    const absent = DCGAN_CONFIG_KEYS.filter((key) => config[key] === undefined);
    if (absent.length > 0) fatal(`its config has no ${absent.map((k) => `'${k}'`).join(', ')}`);
    try {
      model = resolveDcganConfig(pickDcganConfig(config));
    } catch (error) {
      fatal(`its model config is invalid (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  const step = count('step', true);
  const epoch = count('epoch', true);
  const elapsedSeconds = count('elapsed_seconds', false);
  const loader = json('loader');
  if (loader !== undefined && !(isObject(loader) && isCount(loader['epoch']) && isCount(loader['batchIndex']) && isCount(loader['seed']))) {
    problems.push("its metadata 'loader' is not {epoch, batchIndex, seed} of non-negative integers");
  }
  const rng = json('rng');
  if (rng !== undefined && !(isObject(rng) && Array.isArray(rng['s']) && rng['s'].length === 4 && rng['s'].every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff))) {
    problems.push("its metadata 'rng' is not a generator state");
  }

  let convolutions: ConvolutionChoice[] = [];
  if (metadata['convolutions'] !== undefined) {
    const list = json('convolutions');
    const parsed = Array.isArray(list) ? list.map(parseConvolutionChoice) : [null];
    if (parsed.every((c): c is ConvolutionChoice => c !== null)) convolutions = parsed;
    else if (list !== undefined) problems.push("its metadata 'convolutions' is not a list of convolution choices");
  }

  // Tensors: each name must be one the format defines, with its dtype.
  const claimed = new Set<string>();
  const claim = (name: string): TensorLike | undefined => {
    const t = tensors.get(name);
    if (t === undefined) problems.push(`tensor '${name}' is missing`);
    else claimed.add(name);
    return t;
  };
  const nets = {} as Record<(typeof NETWORKS)[number] | typeof AVERAGE, Record<string, TensorLike>>;
  for (const net of [...NETWORKS, AVERAGE]) {
    const own = withoutPrefix(tensors, `${net}.`);
    if (own.size === 0 && net !== AVERAGE) problems.push(`it holds no '${net}.' tensors`);
    const dict = Object.create(null) as Record<string, TensorLike>;
    for (const [name, t] of own) {
      claimed.add(`${net}.${name}`);
      const want = isCounter(name) ? 'I64' : 'F32';
      if (t.dtype !== want) problems.push(`tensor '${net}.${name}' is ${t.dtype}, expected ${want}`);
      dict[name] = t;
    }
    nets[net] = dict;
  }
  const optimizers = {} as Record<keyof typeof OPTIMIZERS, OptimizerStateDictLike>;
  for (const name of Object.keys(OPTIMIZERS) as Array<keyof typeof OPTIMIZERS>) {
    optimizers[name] = { hyper: {}, state: [] };
    const meta = json(name);
    if (meta === undefined) continue;
    if (!isObject(meta) || !isObject(meta['hyper']) || !Array.isArray(meta['state'])) {
      problems.push(`its metadata '${name}' is not an optimizer state`);
      continue;
    }
    const hyper: Record<string, number | boolean> = {};
    for (const [k, v] of Object.entries(meta['hyper'])) {
      if ((typeof v !== 'number' || !Number.isFinite(v)) && typeof v !== 'boolean') problems.push(`optimizer hyperparameter ${name}.${k} is ${JSON.stringify(v)}, not a number`);
      else hyper[k] = v;
    }
    const state = (meta['state'] as unknown[]).map((entry, i): ParamStateLike | null => {
      if (entry === null) return null;
      if (!isObject(entry) || !isCount(entry['step']) || entry['step'] < 1 || Object.keys(entry).length !== 1) {
        problems.push(`${name} state ${i} is ${JSON.stringify(entry)}, expected {"step": a positive integer}`);
        return null;
      }
      const s: Record<string, TensorLike | number> = { step: entry['step'] };
      for (const key of ADAM_TENSORS) {
        const t = claim(`${name}.state.${i}.${key}`);
        if (t !== undefined) s[key] = t;
      }
      return s;
    });
    optimizers[name] = { hyper, state };
  }
  const fixedNoise = claim('fixed_noise');
  const stray = [...tensors.keys()].filter((name) => !claimed.has(name));
  if (stray.length > 0) problems.push(`it holds unexpected tensors (${stray.slice(0, 3).join(', ')}${stray.length > 3 ? ', …' : ''})`);
  for (const [name, t] of tensors) if (t.dtype !== 'F32' && claimed.has(name) && !isCounter(name)) problems.push(`tensor '${name}' is ${t.dtype}, expected F32`);
  const nonFinite = nonFiniteTensors(tensors);
  if (nonFinite.length > 0) problems.push(`non-finite values in ${nonFinite.join(', ')}`);
  if (problems.length > 0) fatal([...new Set(problems)].join('; '));

  return {
    path,
    config: config as CheckpointConfig,
    model: model!,
    netG: nets.netG,
    netD: nets.netD,
    netGEma: Object.keys(nets[AVERAGE]).length > 0 ? nets[AVERAGE] : null,
    optG: optimizers.optG,
    optD: optimizers.optD,
    step,
    epoch,
    elapsedSeconds,
    loader: loader as CheckpointLoaderState,
    rng: { s: (rng as { s: [number, number, number, number] }).s },
    fixedNoise: fixedNoise!,
    convolutions,
  };
}

/** What a state dict lacks or has too many of, or holds in the wrong shape, for `module`. */
function stateDictProblems(label: string, module: Module, state: StateDictLike): string[] {
  const given = state instanceof Map ? (state as ReadonlyMap<string, TensorLike>) : new Map(Object.entries(state));
  const own = module.stateDict();
  const problems: string[] = [];
  const missing = Object.keys(own).filter((k) => !given.has(k));
  if (missing.length > 0) problems.push(`${label} lacks ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}`);
  const unexpected = [...given.keys()].filter((k) => !Object.hasOwn(own, k));
  if (unexpected.length > 0) problems.push(`${label} has unexpected tensors ${unexpected.slice(0, 4).join(', ')}`);
  for (const [k, t] of Object.entries(own)) {
    const g = given.get(k);
    if (g !== undefined && !sameShape(g.shape, t.shape)) problems.push(`${label} ${k} has shape ${shapeToString(g.shape)}, the model ${shapeToString(t.shape)}`);
  }
  return problems;
}

function optimizerProblems(label: string, optimizer: Optimizer, saved: OptimizerStateDictLike): string[] {
  if (saved.state.length !== optimizer.params.length) return [`${label} has state for ${saved.state.length} parameters, the model has ${optimizer.params.length}`];
  const problems: string[] = [];
  saved.state.forEach((entry, i) => {
    if (entry === null) return;
    const param = optimizer.params[i]!;
    for (const [key, value] of Object.entries(entry)) {
      if (typeof value !== 'number' && !sameShape(value.shape, param.shape)) {
        problems.push(`${label}.state.${i}.${key} has shape ${shapeToString(value.shape)}, its parameter ${shapeToString(param.shape)}`);
      }
    }
  });
  return problems;
}

function failIf(checkpoint: LoadedCheckpoint, problems: string[], what: string): void {
  if (problems.length > 0) throw new CheckpointError(`${checkpoint.path}: its ${what} does not fit the model built from its config (${problems.join('; ')})`);
}

/**
 * Loads the generator to sample with: the generator average where the checkpoint has one
 * (unless `raw`), otherwise the trained weights. Returns which it loaded.
 */
export function loadSamplingGenerator(checkpoint: LoadedCheckpoint, netG: Module, options: { raw?: boolean } = {}): 'average' | 'raw' {
  const average = checkpoint.netGEma !== null && options.raw !== true;
  const state = average ? checkpoint.netGEma! : checkpoint.netG;
  failIf(checkpoint, stateDictProblems(average ? 'generator average' : 'generator', netG, state), 'generator');
  netG.loadStateDict(state);
  return average ? 'average' : 'raw';
}

/** Loads G and D weights (and BatchNorm statistics) from a checkpoint into modules, naming everything that does not fit. */
export function loadNetworks(checkpoint: LoadedCheckpoint, netG: Module, netD?: Module): void {
  const problems = stateDictProblems('generator', netG, checkpoint.netG);
  if (netD !== undefined) problems.push(...stateDictProblems('discriminator', netD, checkpoint.netD));
  failIf(checkpoint, problems, netD === undefined ? 'generator' : 'generator or discriminator');
  netG.loadStateDict(checkpoint.netG);
  netD?.loadStateDict(checkpoint.netD);
}

/** The live objects a whole training state is restored into. */
export interface RestoreTargets {
  netG: Module;
  netD: Module;
  optG: Optimizer;
  optD: Optimizer;
  fixedNoise: Tensor;
  /** The run's generator average, when it keeps one. */
  netGEma?: Module | null;
}

/**
 * Restores networks, optimizer states, fixed noise and the convolutions' timed algorithms, after checking every one of them
 * against the live objects: on any mismatch nothing is changed and the error lists them all.
 * With `release`, the checkpoint's tensor data is dropped once copied (its metadata stays):
 * a resumed run then does not hold a second copy of its whole state — 1.1 GB at 256×256 —
 * for as long as it trains.
 */
export function restoreCheckpoint(checkpoint: LoadedCheckpoint, targets: RestoreTargets, options: { release?: boolean } = {}): void {
  if (checkpoint.released === true) throw new CheckpointError(`${checkpoint.path}: its tensors were released when it was restored; load it again to restore it again`);
  const problems = [
    ...stateDictProblems('netG', targets.netG, checkpoint.netG),
    ...stateDictProblems('netD', targets.netD, checkpoint.netD),
    ...optimizerProblems('optG', targets.optG, checkpoint.optG),
    ...optimizerProblems('optD', targets.optD, checkpoint.optD),
  ];
  const average = targets.netGEma ?? null;
  if (average !== null && checkpoint.netGEma === null) problems.push(`it holds no generator average (${AVERAGE}.*) but the run keeps one`);
  if (average === null && checkpoint.netGEma !== null) problems.push(`it holds a generator average (${AVERAGE}.*) but the run keeps none`);
  if (average !== null && checkpoint.netGEma !== null) problems.push(...stateDictProblems(AVERAGE, average, checkpoint.netGEma));
  if (!sameShape(checkpoint.fixedNoise.shape, targets.fixedNoise.shape)) {
    problems.push(`fixed_noise has shape ${shapeToString(checkpoint.fixedNoise.shape)}, expected ${shapeToString(targets.fixedNoise.shape)}`);
  }
  failIf(checkpoint, problems, 'training state');
  targets.netG.loadStateDict(checkpoint.netG);
  targets.netD.loadStateDict(checkpoint.netD);
  targets.optG.loadStateDict(checkpoint.optG);
  targets.optD.loadStateDict(checkpoint.optD);
  targets.fixedNoise.data.set(checkpoint.fixedNoise.data);
  if (average !== null) average.loadStateDict(checkpoint.netGEma!);
  restoreConvolutionChoices(checkpoint.convolutions);
  if (options.release === true) {
    const empty = Object.freeze(Object.create(null) as Record<string, TensorLike>);
    Object.assign(checkpoint, {
      netG: empty,
      netD: empty,
      netGEma: checkpoint.netGEma === null ? null : empty,
      optG: { hyper: checkpoint.optG.hyper, state: [] },
      optD: { hyper: checkpoint.optD.hyper, state: [] },
      fixedNoise: { shape: checkpoint.fixedNoise.shape, data: new Float32Array(0) },
      released: true,
    });
  }
}
