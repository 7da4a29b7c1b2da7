/**
 * Where a command's G (and D) weights come from: a training checkpoint (file or run folder),
 * a weights-only file from `dcgan import`, or PyTorch .pth state dicts. One call gives the
 * model config and the state dicts, with every problem as a one-line UsageError — for
 * `dcgan export`, `sample`, `interpolate` and `eval` (so `--checkpoint netG.pth` works everywhere).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { readSafetensorsLayout } from '../io/safetensors-file.js';
import { looksLikeZip } from '../io/torch/zip.js';
import { loadWeights, WEIGHTS_FORMAT, WeightsError, type WeightsDict } from '../io/weights.js';
import { DcganGenerator, type DcganConfig } from '../models/dcgan.js';
import { UsageError } from './errors.js';
import { inferFromFiles, readTorchFile } from './import.js';
import { checkpointPath, openCheckpoint } from './options.js';

export interface ModelSource {
  kind: 'checkpoint' | 'weights' | 'pytorch';
  config: DcganConfig;
  /** The whole training config, for checkpoints. */
  training: Record<string, unknown> | null;
  /** Completed training steps, for checkpoints. */
  step: number | null;
  netG: WeightsDict;
  netD: WeightsDict | null;
  /** The generator average, for checkpoints of runs that kept one (--ema). */
  netGEma: WeightsDict | null;
  /** A conditional model's class names (indices where the file names none); null when unconditional. */
  classes: string[] | null;
}

/** The class names of a conditional model, from a training config where it records them. */
function classesOf(config: DcganConfig, training: Record<string, unknown> | null): string[] | null {
  const count = config.numClasses ?? 0;
  if (count === 0) return null;
  const names = training?.['classes'];
  return Array.isArray(names) && names.length === count ? names.map(String) : Array.from({ length: count }, (_, i) => String(i));
}

/** torch.save's legacy format starts with a pickle of its magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** True for a .pth/.pt name or bytes that start like torch.save output (zip, or the legacy magic number). */
function isTorchFile(path: string): boolean {
  if (/\.(pth|pt)$/i.test(path)) return true;
  const head = new Uint8Array(LEGACY_MAGIC.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return looksLikeZip(head) || LEGACY_MAGIC.every((b, i) => head[i] === b);
}

/**
 * Opens a checkpoint (file or run folder), a weights file, or a PyTorch generator state dict
 * (with `netDPath`, its discriminator too).
 */
export function openModelSource(pathOrDir: string, netDPath?: string): ModelSource {
  const path = checkpointPath(pathOrDir);
  if (existsSync(path) && statSync(path).isFile()) {
    if (isTorchFile(path)) {
      const netG = readTorchFile(path);
      const netD = netDPath === undefined ? undefined : readTorchFile(netDPath);
      return { kind: 'pytorch', config: inferFromFiles(netG, path, netD, netDPath), training: null, step: null, netG, netD: netD ?? null, netGEma: null, classes: null };
    }
    let format: string | undefined;
    try {
      format = readSafetensorsLayout(path).metadata['format']; // the header only
    } catch {
      format = undefined; // openCheckpoint reports the problem
    }
    if (format === WEIGHTS_FORMAT) {
      try {
        const w = loadWeights(path);
        return { kind: 'weights', config: w.config, training: null, step: null, netG: w.netG, netD: w.netD, netGEma: null, classes: classesOf(w.config, null) };
      } catch (error) {
        if (error instanceof WeightsError) throw new UsageError(error.message);
        throw error;
      }
    }
  }
  const c = openCheckpoint(pathOrDir);
  const toMap = (sd: Record<string, { shape: readonly number[]; data: Float32Array }>): WeightsDict => new Map(Object.entries(sd));
  return {
    kind: 'checkpoint',
    config: c.model,
    training: c.config,
    step: c.step,
    netG: toMap(c.netG),
    netD: toMap(c.netD),
    netGEma: c.netGEma === null ? null : toMap(c.netGEma),
    classes: classesOf(c.model, c.config),
  };
}

/** The generator to sample with: the source's generator average unless `raw` (or it has none). */
export function samplingGenerator(source: ModelSource, raw: boolean | undefined): { netG: DcganGenerator; weights: 'average' | 'raw' } {
  const netG = new DcganGenerator(source.config);
  const average = source.netGEma !== null && raw !== true;
  try {
    netG.loadStateDict(average ? source.netGEma! : source.netG);
  } catch (error) {
    throw new UsageError(`the ${average ? 'generator average' : 'generator'} does not fit the model its file describes (${error instanceof Error ? error.message : String(error)})`);
  }
  return { netG, weights: average ? 'average' : 'raw' };
}
