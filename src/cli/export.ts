/**
 * `dcgan export --checkpoint RUN --format pytorch --out netG.pth [--netD netD.pth]`: the
 * generator (and discriminator) of a checkpoint as PyTorch state dicts, loadable with
 * `torch.load(f, weights_only=True)` into pytorch/examples' Generator/Discriminator; the
 * hyperparameters go to `<out>.json` (never pickled).
 */
import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveTorchStateDict } from '../io/torch/index.js';
import type { WeightsDict } from '../io/weights.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { UsageError } from './errors.js';
import { openModelSource } from './model-source.js';
import { choiceOption } from './options.js';
import { exportOnnxCommandAction, onnxExportOptions } from './export-onnx.js';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

interface ExportFlags {
  checkpoint: string;
  format: 'pytorch' | 'onnx';
  out: string;
  netD?: string;
  json?: boolean;
  discriminator?: boolean;
  torchFidelity?: boolean;
  rawWeights?: boolean;
}

function torchEntries(dict: WeightsDict): Array<[string, TensorToWrite]> {
  return [...dict].map(([name, t]) => [name, { shape: t.shape, data: t.data, dtype: name.endsWith('num_batches_tracked') ? 'I64' : 'F32' }]);
}

function checkOut(flag: string, path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give a .pth file name`);
  if (!/\.(pth|pt)$/i.test(path)) throw new UsageError(`${flag} must be a .pth (or .pt) file, got '${path}'`);
}

export function exportCommand(): Command {
  return onnxExportOptions(
    new Command('export')
      .description("export a checkpoint's generator (and discriminator): PyTorch .pth state dicts (hyperparameters in <out>.json) or ONNX")
      .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it), a weights file from dcgan import, or a .pth')
      .option('--format <format>', 'pytorch or onnx', choiceOption('--format', ['pytorch', 'onnx'] as const), 'pytorch')
      .requiredOption('--out <file>', "pytorch: the generator's state dict (.pth); onnx: the model (.onnx)")
      .option('--netD <netD.pth>', "pytorch: also write the discriminator's state dict here")
      .option('--raw-weights', "onnx: export G's trained weights even where the checkpoint keeps a generator average (--ema); pytorch always writes the trained weights")
      .option('--json', 'print one JSON object describing what was written'),
  ).action((flags: ExportFlags) => {
      if (flags.format === 'onnx') {
        if (flags.netD !== undefined) throw new UsageError('--netD is for --format pytorch; for ONNX export the discriminator with --discriminator');
        exportOnnxCommandAction({ ...flags, producerVersion: PACKAGE_VERSION });
        return;
      }
      if (flags.discriminator || flags.torchFidelity) throw new UsageError('--discriminator and --torch-fidelity are for --format onnx');
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
