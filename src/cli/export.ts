/**
 * `dcgan export --checkpoint RUN --format pytorch --out netG.pth [--netD netD.pth]`: the
 * generator (and discriminator) of a checkpoint as PyTorch state dicts, loadable with
 * `torch.load(f, weights_only=True)` into pytorch/examples' Generator/Discriminator; the
 * hyperparameters go to `<out>.json` (never pickled).
 */
import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveTorchStateDict } from '../io/torch/index.js';
import type { WeightsDict } from '../io/weights.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { UsageError } from './errors.js';
import { openModelSource } from './model-source.js';
import { choiceOption } from './options.js';

interface ExportFlags {
  checkpoint: string;
  format: 'pytorch';
  out: string;
  netD?: string;
  json?: boolean;
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
      const source = openModelSource(flags.checkpoint);
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
