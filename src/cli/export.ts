/**
 * `dcgan export --checkpoint RUN --format pytorch --out netG.pth [--netD netD.pth]`: the
 * generator (and discriminator) of a checkpoint as PyTorch state dicts, loadable with
 * `torch.load(f, weights_only=True)` into pytorch/examples' Generator/Discriminator; the
 * hyperparameters go to `<out>.json` (never pickled).
 */
import { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { saveTorchStateDict } from '../io/torch/index.js';
import { loadWeights, WEIGHTS_FORMAT, WeightsError, type WeightsDict } from '../io/weights.js';
import type { TensorToWrite } from '../io/safetensors.js';
import type { DcganConfig } from '../models/dcgan.js';
import { UsageError } from './errors.js';
import { checkpointPath, choiceOption, openCheckpoint } from './options.js';

interface ExportFlags {
  checkpoint: string;
  format: 'pytorch';
  out: string;
  netD?: string;
  json?: boolean;
}

interface Source {
  config: DcganConfig;
  /** The whole training config when the source is a checkpoint. */
  training: Record<string, unknown> | null;
  step: number | null;
  netG: WeightsDict;
  netD: WeightsDict | null;
}

/** A checkpoint (file or run folder) or a weights file from `dcgan import`. */
function openSource(pathOrDir: string): Source {
  const path = checkpointPath(pathOrDir);
  if (existsSync(path) && statSync(path).isFile()) {
    let format: string | undefined;
    try {
      format = decodeSafetensors(readFileSync(path), path).metadata['format'];
    } catch {
      format = undefined; // openCheckpoint reports the problem
    }
    if (format === WEIGHTS_FORMAT) {
      try {
        const w = loadWeights(path);
        return { config: w.config, training: null, step: null, netG: w.netG, netD: w.netD };
      } catch (error) {
        if (error instanceof WeightsError) throw new UsageError(error.message);
        throw error;
      }
    }
  }
  const c = openCheckpoint(pathOrDir);
  const toMap = (sd: Record<string, { shape: readonly number[]; data: Float32Array }>): WeightsDict => new Map(Object.entries(sd));
  return { config: c.model, training: c.config, step: c.step, netG: toMap(c.netG), netD: toMap(c.netD) };
}

function torchEntries(dict: WeightsDict): Array<[string, TensorToWrite]> {
  return [...dict].map(([name, t]) => [name, { shape: t.shape, data: t.data, dtype: name.endsWith('num_batches_tracked') ? 'I64' : 'F32' }]);
}

function checkOut(flag: string, path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give a .pth file name`);
  if (!/\.(pth|pt)$/i.test(path)) throw new UsageError(`${flag} must be a .pth (or .pt) file, got '${path}'`);
}

export function exportCommand(): Command {
  return new Command('export')
    .description("export a checkpoint's generator (and discriminator) as PyTorch .pth state dicts, hyperparameters in <out>.json")
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it), or a weights file from dcgan import')
    .option('--format <format>', 'pytorch', choiceOption('--format', ['pytorch'] as const), 'pytorch')
    .requiredOption('--out <netG.pth>', "the generator's state dict to write")
    .option('--netD <netD.pth>', "also write the discriminator's state dict here")
    .option('--json', 'print one JSON object describing what was written')
    .action((flags: ExportFlags) => {
      checkOut('--out', flags.out);
      if (flags.netD !== undefined) checkOut('--netD', flags.netD);
      const source = openSource(flags.checkpoint);
      if (flags.netD !== undefined && source.netD === null) throw new UsageError(`${flags.checkpoint} holds no discriminator to write to --netD`);
      const c = source.config;
      writeFileAtomic(flags.out, saveTorchStateDict(torchEntries(source.netG)));
      if (flags.netD !== undefined && source.netD !== null) writeFileAtomic(flags.netD, saveTorchStateDict(torchEntries(source.netD)));
      const side = `${flags.out}.json`;
      const description = {
        format: 'dcgan-ts-pytorch-export',
        netG: basename(flags.out),
        netD: flags.netD === undefined ? null : basename(flags.netD),
        config: c,
        // The constructor arguments of pytorch/examples-style models (examples/pytorch/dcgan_models.py).
        pytorch: { nz: c.nz, ngf: c.ngf, ndf: c.ndf, nc: c.channels, image_size: c.imageSize },
        step: source.step,
        training: source.training,
        source: flags.checkpoint,
      };
      writeFileAtomic(side, new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`));
      const note = c.projection === 'linear' ? " (linear projection: main.0 is a Linear layer, not pytorch/examples' ConvTranspose2d)" : '';
      if (flags.json) console.log(JSON.stringify({ out: flags.out, netD: flags.netD ?? null, json: side, config: c }));
      else console.log(`wrote ${flags.out}${flags.netD ? ` and ${flags.netD}` : ''} (PyTorch state dicts) and ${side}${note}`);
    });
}
