/**
 * Weights-only files: a generator (and optionally a discriminator) with its model config, no
 * training state — what `dcgan import` writes from PyTorch .pth files. A safetensors file:
 *
 *   netG.<name>, netD.<name>   the state dicts (pytorch/examples names; num_batches_tracked as I64)
 *   metadata: format "dcgan-ts-weights", version "1", config (JSON DcganConfig),
 *             sources (JSON {netG, netD}: where the weights came from)
 */
import { existsSync, statSync } from 'node:fs';
import { inferDcganConfig } from '../models/infer.js';
import { resolveDcganConfig, type DcganConfig } from '../models/dcgan.js';
import { writeFileAtomic } from './atomic.js';
import { readSafetensorsFile } from './safetensors-file.js';
import { encodeSafetensors, SafetensorsError, type SafetensorsTensor, type TensorToWrite } from './safetensors.js';

export const WEIGHTS_FORMAT = 'dcgan-ts-weights';
export const WEIGHTS_VERSION = '1';

/** Tensors by name with float32 values (safetensors, .pth and our Tensors all fit). */
export type WeightsDict = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

export interface Weights {
  config: DcganConfig;
  netG: Map<string, SafetensorsTensor>;
  /** Absent when the file holds only a generator. */
  netD: Map<string, SafetensorsTensor> | null;
  sources: Record<string, string>;
}

/** A weights file that is missing, malformed or not a DCGAN; one line naming the file. */
export class WeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsError';
  }
}

function isCounter(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

/** The safetensors bytes of a weights file. Throws WeightsError on non-finite values. */
export function encodeWeights(config: DcganConfig, netG: WeightsDict, netD?: WeightsDict | null, sources: Record<string, string> = {}): Uint8Array {
  const tensors: Array<[string, TensorToWrite]> = [];
  for (const [prefix, dict] of [['netG', netG], ['netD', netD ?? null]] as const) {
    if (dict === null) continue;
    for (const [name, t] of dict) {
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i]!)) throw new WeightsError(`refusing to write weights: ${prefix}.${name} holds a non-finite value (${t.data[i]}) at index ${i}`);
      }
      tensors.push([`${prefix}.${name}`, { shape: t.shape, data: t.data, dtype: isCounter(name) ? 'I64' : 'F32' }]);
    }
  }
  return encodeSafetensors(tensors, {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    config: JSON.stringify(config),
    sources: JSON.stringify(sources),
  });
}

/** Writes a weights file atomically. */
export function saveWeights(path: string, config: DcganConfig, netG: WeightsDict, netD?: WeightsDict | null, sources: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeWeights(config, netG, netD, sources));
}

/** Reads and validates a weights file: format, config, and every tensor name and shape against it. */
export function loadWeights(path: string): Weights {
  if (!existsSync(path)) throw new WeightsError(`weights file not found: ${path}`);
  if (statSync(path).isDirectory()) throw new WeightsError(`${path} is a folder, not a weights file`);
  let file;
  try {
    file = readSafetensorsFile(path);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new WeightsError(error.message);
    throw error;
  }
  return weightsFromSafetensors(path, file.tensors, file.metadata);
}

/** Validates decoded safetensors as a weights file. */
export function weightsFromSafetensors(path: string, tensors: Map<string, SafetensorsTensor>, metadata: Record<string, string>): Weights {
  const bad = (problem: string): never => {
    throw new WeightsError(`${path} is not a usable dcgan-ts weights file: ${problem}`);
  };
  if (metadata['format'] !== WEIGHTS_FORMAT) bad(`its metadata 'format' is ${JSON.stringify(metadata['format'] ?? null)}, expected '${WEIGHTS_FORMAT}'`);
  if (metadata['version'] !== WEIGHTS_VERSION) bad(`version ${JSON.stringify(metadata['version'] ?? null)} is not supported (this build reads version ${WEIGHTS_VERSION})`);
  let config: DcganConfig;
  let sources: Record<string, string> = {};
  try {
    config = resolveDcganConfig(JSON.parse(metadata['config'] ?? 'null') as Partial<DcganConfig>);
    const s = JSON.parse(metadata['sources'] ?? '{}') as unknown;
    if (s !== null && typeof s === 'object' && !Array.isArray(s)) sources = Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  } catch (error) {
    return bad(`its config is invalid (${error instanceof Error ? error.message : String(error)})`);
  }
  const netG = new Map<string, SafetensorsTensor>();
  const netD = new Map<string, SafetensorsTensor>();
  for (const [name, t] of tensors) {
    if (name.startsWith('netG.')) netG.set(name.slice(5), t);
    else if (name.startsWith('netD.')) netD.set(name.slice(5), t);
    else bad(`it holds an unexpected tensor '${name}'`);
  }
  if (netG.size === 0) bad("it holds no 'netG.' tensors");
  try {
    const found = inferDcganConfig(netG, netD.size > 0 ? netD : undefined, { generatorSource: `${path} (netG)`, discriminatorSource: `${path} (netD)` });
    const differs: Array<keyof DcganConfig> = (['imageSize', 'channels', 'nz', 'ngf', 'projection'] as const).filter((k) => found[k] !== config[k]);
    if (netD.size > 0 && found.ndf !== config.ndf) differs.push('ndf');
    if (differs.length > 0) bad(`its tensors do not match its config (${differs.map((k) => `${k}: config ${config[k]}, tensors ${found[k]}`).join(', ')})`);
  } catch (error) {
    if (error instanceof WeightsError) throw error;
    bad(error instanceof Error ? error.message : String(error));
  }
  return { config, netG, netD: netD.size > 0 ? netD : null, sources };
}
