/**
 * Reading a generator out of a dcgan-ts file in the browser. A training checkpoint is read and
 * validated by the CLI's own code (src/train/checkpoint-format.ts), and its generator average
 * is used where it has one, as `dcgan sample` does; other files with a `config` and `netG.*`
 * tensors (weights-only files from `dcgan import`) are read directly.
 */
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { models, tensor, type Tensor } from '../../src/core.js';
import { CHECKPOINT_FORMAT, loadSamplingGenerator, parseCheckpoint } from '../../src/train/checkpoint-format.js';

export interface LoadedGenerator {
  generator: InstanceType<typeof models.DcganGenerator>;
  config: models.DcganConfig;
  /** Training steps behind the checkpoint, when it says. */
  step: number | null;
  /** The run's fixed noise, when the file holds it: [n·nz]. */
  fixedNoise: Float32Array | null;
  /** A conditional generator's class names (null for an unconditional one). */
  classes: string[] | null;
}

/** The class names of a conditional model's config (indices where the file names none). */
function classNames(model: models.DcganConfig, config: Record<string, unknown>): string[] | null {
  const count = model.numClasses ?? 0;
  if (count === 0) return null;
  const names = config['classes'];
  return Array.isArray(names) && names.length === count ? names.map(String) : Array.from({ length: count }, (_, i) => String(i));
}

export class CheckpointReadError extends Error {
  override name = 'CheckpointReadError';
}

export function generatorFromCheckpoint(bytes: Uint8Array, name: string): LoadedGenerator {
  let file;
  try {
    file = decodeSafetensors(bytes, name);
    if (file.metadata['format'] === CHECKPOINT_FORMAT) {
      const checkpoint = parseCheckpoint(bytes, name);
      const generator = new models.DcganGenerator(checkpoint.model);
      loadSamplingGenerator(checkpoint, generator);
      generator.eval();
      return { generator, config: checkpoint.model, step: checkpoint.step, fixedNoise: checkpoint.fixedNoise.data, classes: classNames(checkpoint.model, checkpoint.config) };
    }
  } catch (error) {
    throw new CheckpointReadError(error instanceof Error ? error.message : String(error));
  }
  const text = file.metadata['config'];
  if (text === undefined) throw new CheckpointReadError(`${name} has no 'config' metadata: not a dcgan-ts checkpoint`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CheckpointReadError(`${name}: its 'config' metadata is not JSON`);
  }
  let config: models.DcganConfig;
  try {
    config = models.resolveDcganConfig(models.pickDcganConfig(raw));
  } catch (error) {
    throw new CheckpointReadError(`${name}: its model config is invalid (${error instanceof Error ? error.message : String(error)})`);
  }
  const generator = new models.DcganGenerator(config);
  const state: Record<string, Tensor> = {};
  for (const [key, t] of file.tensors) if (key.startsWith('netG.')) state[key.slice(5)] = tensor(t.data, t.shape);
  if (Object.keys(state).length === 0) throw new CheckpointReadError(`${name} holds no generator (netG.*) tensors`);
  try {
    generator.loadStateDict(state);
  } catch (error) {
    throw new CheckpointReadError(`${name}: the generator does not fit its config (${error instanceof Error ? error.message : String(error)})`);
  }
  for (const t of Object.values(state)) t.dispose();
  generator.eval();
  const step = Number(file.metadata['step']);
  const noise = file.tensors.get('fixed_noise');
  return { generator, config, step: Number.isFinite(step) ? step : null, fixedNoise: noise?.data ?? null, classes: classNames(config, raw) };
}
