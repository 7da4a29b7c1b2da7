/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped, in one
 * safetensors file.
 *
 * Tensors:
 *   netG.<name>, netD.<name>           the two state dicts, PyTorch names (num_batches_tracked as I64)
 *   optG.state.<i>.<key>, optD.…       Adam moments (exp_avg, exp_avg_sq) of parameter i
 *   fixed_noise                        the z behind the sample grids
 * Metadata (strings; JSON where structured):
 *   format "dcgan-ts-checkpoint", version "1", config, step, epoch, elapsed_seconds,
 *   loader (data order), rng (generator state), optG / optD (hyperparameters and step counts).
 *
 * The netG./netD. tensors alone are pytorch/examples' state dicts under a prefix, so a
 * PyTorch user can load them after stripping it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Module, StateDict } from '../nn/module.js';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/optimizer.js';
import { tensor } from '../ops/create.js';
import type { GeneratorState } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { resolveDcganConfig, type DcganConfig } from '../models/dcgan.js';
import { writeFileAtomic, type AtomicWriteOptions } from './atomic.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type TensorToWrite } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'dcgan-ts-checkpoint';
export const CHECKPOINT_VERSION = '1';

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
}

/** A checkpoint as read back: plain state to load into fresh modules and optimizers. */
export interface LoadedCheckpoint {
  path: string;
  config: CheckpointConfig;
  /** The model part of `config`, validated. */
  model: DcganConfig;
  netG: StateDict;
  netD: StateDict;
  optG: OptimizerStateDict;
  optD: OptimizerStateDict;
  step: number;
  epoch: number;
  elapsedSeconds: number;
  loader: CheckpointLoaderState;
  rng: GeneratorState;
  fixedNoise: Tensor;
}

/** A missing, unreadable, corrupt or mismatched checkpoint; the message is one clear line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

function isCounter(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

function checkFinite(name: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new CheckpointError(`refusing to write a checkpoint: ${name} holds a non-finite value (${data[i]}) at index ${i}`);
    }
  }
}

/** The tensors and metadata of a checkpoint, in file order. Throws CheckpointError on non-finite values. */
export function checkpointEntries(state: CheckpointState): { tensors: Array<[string, TensorToWrite]>; metadata: Record<string, string> } {
  const tensors: Array<[string, TensorToWrite]> = [];
  const add = (name: string, t: Tensor, dtype: 'F32' | 'I64' = 'F32'): void => {
    checkFinite(name, t.data);
    tensors.push([name, { shape: t.shape, data: t.data, dtype }]);
  };
  for (const [prefix, net] of [['netG', state.netG], ['netD', state.netD]] as const) {
    for (const [name, t] of Object.entries(net.stateDict())) add(`${prefix}.${name}`, t, isCounter(name) ? 'I64' : 'F32');
  }
  const optMeta: Record<string, string> = {};
  for (const [prefix, opt] of [['optG', state.optG], ['optD', state.optD]] as const) {
    const saved = opt.stateDict();
    const scalars = saved.state.map((entry, i) => {
      if (entry === null) return null;
      const numbers: Record<string, number> = {};
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value === 'number') numbers[key] = value;
        else add(`${prefix}.state.${i}.${key}`, value);
      }
      return numbers;
    });
    optMeta[prefix] = JSON.stringify({ hyper: saved.hyper, params: saved.state.length, state: scalars });
  }
  add('fixed_noise', state.fixedNoise);
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
  return { tensors, metadata };
}

/**
 * Writes the checkpoint atomically (temporary file, fsync, rename): `path` keeps its old
 * content if anything fails, including finding a NaN or infinity in the state.
 */
export function saveCheckpoint(path: string, state: CheckpointState, options: AtomicWriteOptions = {}): void {
  // The optimizers' state dicts are copies: free them as soon as the bytes exist.
  const bytes = tidy(() => {
    const { tensors, metadata } = checkpointEntries(state);
    return encodeSafetensors(tensors, metadata);
  });
  writeFileAtomic(path, bytes, options);
}

function bad(path: string, problem: string): never {
  throw new CheckpointError(`${path} is not a usable dcgan-ts checkpoint: ${problem}`);
}

function parseJson(path: string, key: string, text: string | undefined): unknown {
  if (text === undefined) bad(path, `its metadata has no '${key}'`);
  try {
    return JSON.parse(text);
  } catch {
    bad(path, `its metadata '${key}' is not valid JSON`);
  }
}

function parseCount(path: string, key: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n) || n < 0) bad(path, `its metadata '${key}' is not a non-negative number`);
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads and validates a checkpoint. The tensors are created in the current tidy scope
 * (wrap the call and the loading into modules in `tidy` to free them afterwards).
 */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint not found: ${path}`);
  if (statSync(path).isDirectory()) throw new CheckpointError(`${path} is a folder, not a checkpoint file (did you mean ${path.replace(/\/$/, '')}/checkpoint.safetensors?)`);
  let file;
  try {
    file = decodeSafetensors(readFileSync(path), path);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new CheckpointError(error.message);
    throw error;
  }
  const { tensors, metadata } = file;
  if (metadata['format'] !== CHECKPOINT_FORMAT) bad(path, `its metadata 'format' is ${JSON.stringify(metadata['format'] ?? null)}, expected '${CHECKPOINT_FORMAT}'`);
  if (metadata['version'] !== CHECKPOINT_VERSION) bad(path, `version ${JSON.stringify(metadata['version'] ?? null)} is not supported (this build reads version ${CHECKPOINT_VERSION})`);

  const config = parseJson(path, 'config', metadata['config']);
  if (!isObject(config)) bad(path, "its metadata 'config' is not an object");
  let model: DcganConfig;
  try {
    model = resolveDcganConfig({
      imageSize: config['imageSize'] as number,
      channels: config['channels'] as 1 | 3,
      nz: config['nz'] as number,
      ngf: config['ngf'] as number,
      ndf: config['ndf'] as number,
      projection: config['projection'] as 'conv' | 'linear',
    });
  } catch (error) {
    bad(path, `its model config is invalid (${error instanceof Error ? error.message : String(error)})`);
  }
  for (const key of ['imageSize', 'channels', 'nz', 'ngf', 'ndf', 'projection']) {
    if (config[key] === undefined) bad(path, `its config has no '${key}'`);
  }

  const loader = parseJson(path, 'loader', metadata['loader']);
  if (!isObject(loader) || !['epoch', 'batchIndex', 'seed'].every((k) => typeof loader[k] === 'number')) {
    bad(path, "its metadata 'loader' is not {epoch, batchIndex, seed}");
  }
  const rng = parseJson(path, 'rng', metadata['rng']);
  if (!isObject(rng) || !Array.isArray(rng['s']) || rng['s'].length !== 4 || !rng['s'].every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
    bad(path, "its metadata 'rng' is not a generator state");
  }

  const used = new Set<string>();
  const take = (name: string): Tensor => {
    const t = tensors.get(name);
    if (t === undefined) bad(path, `tensor '${name}' is missing`);
    used.add(name);
    return tensor(t.data, t.shape);
  };
  const stateDictOf = (prefix: string): StateDict => {
    const out: StateDict = {};
    for (const name of tensors.keys()) if (name.startsWith(`${prefix}.`)) out[name.slice(prefix.length + 1)] = take(name);
    if (Object.keys(out).length === 0) bad(path, `it holds no '${prefix}.' tensors`);
    return out;
  };
  const optimizerOf = (prefix: string): OptimizerStateDict => {
    const meta = parseJson(path, prefix, metadata[prefix]);
    if (!isObject(meta) || !isObject(meta['hyper']) || !Array.isArray(meta['state'])) bad(path, `its metadata '${prefix}' is not an optimizer state`);
    const hyper: Record<string, number | boolean> = {};
    for (const [k, v] of Object.entries(meta['hyper'])) {
      if (typeof v !== 'number' && typeof v !== 'boolean') bad(path, `optimizer hyperparameter ${prefix}.${k} is not a number`);
      hyper[k] = v;
    }
    const state = (meta['state'] as unknown[]).map((entry, i): ParamState | null => {
      if (entry === null) return null;
      if (!isObject(entry)) bad(path, `${prefix} state ${i} is not an object`);
      const s: ParamState = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'number') bad(path, `${prefix} state ${i}.${k} is not a number`);
        s[k] = v;
      }
      const own = `${prefix}.state.${i}.`;
      for (const name of tensors.keys()) if (name.startsWith(own)) s[name.slice(own.length)] = take(name);
      return s;
    });
    return { hyper, state };
  };

  const loaded: LoadedCheckpoint = {
    path,
    config,
    model,
    netG: stateDictOf('netG'),
    netD: stateDictOf('netD'),
    optG: optimizerOf('optG'),
    optD: optimizerOf('optD'),
    step: parseCount(path, 'step', metadata['step']),
    epoch: parseCount(path, 'epoch', metadata['epoch']),
    elapsedSeconds: parseCount(path, 'elapsed_seconds', metadata['elapsed_seconds']),
    loader: { epoch: loader['epoch'] as number, batchIndex: loader['batchIndex'] as number, seed: loader['seed'] as number },
    rng: { s: rng['s'] as [number, number, number, number] },
    fixedNoise: take('fixed_noise'),
  };
  const stray = [...tensors.keys()].filter((name) => !used.has(name));
  if (stray.length > 0) bad(path, `it holds unexpected tensors (${stray.slice(0, 3).join(', ')}${stray.length > 3 ? ', …' : ''})`);
  return loaded;
}

/** Loads G and D weights (and BatchNorm statistics) from a checkpoint into modules, naming what does not fit. */
export function loadNetworks(checkpoint: LoadedCheckpoint, netG: Module, netD?: Module): void {
  for (const [label, net, state] of [['generator', netG, checkpoint.netG], ['discriminator', netD, checkpoint.netD]] as const) {
    if (net === undefined) continue;
    try {
      net.loadStateDict(state);
    } catch (error) {
      throw new CheckpointError(`${checkpoint.path}: its ${label} does not fit the model built from its config (${error instanceof Error ? error.message : String(error)})`);
    }
  }
}

/**
 * Keys whose values differ between a checkpoint's config and the settings asked for now,
 * e.g. `imageSize (checkpoint 32, requested 16)`; an empty list when they agree.
 */
export function configDifferences(saved: CheckpointConfig, requested: CheckpointConfig, keys: readonly string[] = Object.keys(requested)): string[] {
  const out: string[] = [];
  for (const key of keys) {
    if (!(key in requested)) continue;
    const a = saved[key];
    const b = requested[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${key} (checkpoint ${JSON.stringify(a ?? null)}, requested ${JSON.stringify(b ?? null)})`);
  }
  return out;
}
