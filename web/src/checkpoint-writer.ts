/**
 * Writes a training checkpoint in the browser, in the format `dcgan sample`, `dcgan
 * interpolate` and `dcgan train --resume` read (src/io/checkpoint.ts, which itself uses
 * node:fs and so is not loaded here): one safetensors file with netG.* / netD.* (BatchNorm
 * counters as I64), optG.state.<i>.<key> / optD.…, fixed_noise, and the string metadata
 * format, version, config, step, epoch, elapsed_seconds, loader, rng, optG, optD.
 */
import { encodeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { tidy, type GeneratorState, type nn, type optim, type Tensor } from '../../src/core.js';

export interface BrowserCheckpointState {
  config: Record<string, unknown>;
  netG: nn.Module;
  netD: nn.Module;
  optG: optim.Adam;
  optD: optim.Adam;
  step: number;
  epoch: number;
  elapsedSeconds: number;
  loader: { epoch: number; batchIndex: number; seed: number };
  rng: GeneratorState;
  fixedNoise: Tensor;
}

export function encodeCheckpoint(state: BrowserCheckpointState): Uint8Array {
  return tidy(() => {
    const tensors: Array<[string, TensorToWrite]> = [];
    const add = (name: string, t: Tensor, dtype: 'F32' | 'I64' = 'F32'): void => {
      for (const v of t.data) if (!Number.isFinite(v)) throw new Error(`refusing to write a checkpoint: ${name} holds a non-finite value`);
      tensors.push([name, { shape: t.shape, data: t.data.slice(), dtype }]);
    };
    for (const [prefix, net] of [['netG', state.netG], ['netD', state.netD]] as const) {
      for (const [name, t] of Object.entries(net.stateDict())) add(`${prefix}.${name}`, t, name.endsWith('num_batches_tracked') ? 'I64' : 'F32');
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
    return encodeSafetensors(tensors, {
      format: 'dcgan-ts-checkpoint',
      version: '1',
      config: JSON.stringify(state.config),
      step: String(state.step),
      epoch: String(state.epoch),
      elapsed_seconds: String(state.elapsedSeconds),
      loader: JSON.stringify(state.loader),
      rng: JSON.stringify(state.rng),
      ...optMeta,
    });
  });
}
