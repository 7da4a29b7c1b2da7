/**
 * `dcgan import netG.pth [--netD netD.pth] --out weights.safetensors`: PyTorch state dicts
 * (pytorch/examples' netG/netD, from torch.save, DataParallel/DDP or not) into a weights-only
 * safetensors file with the model config inferred from the tensor shapes.
 */
import { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { TorchFormatError, loadTorchStateDict, type TorchTensor } from '../io/torch/index.js';
import { saveWeights, WeightsError } from '../io/weights.js';
import { DcganInferenceError, inferDcganConfig } from '../models/infer.js';
import type { DcganConfig } from '../models/dcgan.js';
import { UsageError } from './errors.js';

interface ImportFlags {
  netD?: string;
  out: string;
  json?: boolean;
}

/** Reads a .pth state dict, its problems as one-line usage errors. */
export function readTorchFile(path: string): Map<string, TorchTensor> {
  if (!existsSync(path)) throw new UsageError(`file not found: ${path}`);
  if (statSync(path).isDirectory()) throw new UsageError(`${path} is a folder, not a .pth file`);
  try {
    return loadTorchStateDict(new Uint8Array(readFileSync(path)), path);
  } catch (error) {
    if (error instanceof TorchFormatError) throw new UsageError(error.message);
    throw error;
  }
}

/** The config of a generator (and discriminator) state dict, as a usage error when it is not a DCGAN. */
export function inferFromFiles(netG: Map<string, TorchTensor>, gPath: string, netD?: Map<string, TorchTensor>, dPath?: string): DcganConfig {
  try {
    return inferDcganConfig(netG, netD, { generatorSource: gPath, discriminatorSource: dPath ?? 'the discriminator' });
  } catch (error) {
    if (error instanceof DcganInferenceError) throw new UsageError(error.message);
    throw error;
  }
}

function describeConfig(c: DcganConfig, withD: boolean): string {
  return `${c.imageSize}×${c.imageSize}×${c.channels}, nz ${c.nz}, ngf ${c.ngf}${withD ? `, ndf ${c.ndf}` : ''}, ${c.projection} projection`;
}

export function importCommand(): Command {
  return new Command('import')
    .description('import PyTorch .pth state dicts (pytorch/examples netG/netD) into a weights-only safetensors file')
    .argument('<netG.pth>', "the generator's state dict (torch.save(netG.state_dict(), …))")
    .option('--netD <netD.pth>', "the discriminator's state dict")
    .requiredOption('--out <file.safetensors>', 'weights file to write')
    .option('--json', 'print one JSON object describing what was written')
    .action((gPath: string, flags: ImportFlags) => {
      if (!flags.out.toLowerCase().endsWith('.safetensors')) throw new UsageError(`--out must be a .safetensors file, got '${flags.out}'`);
      if (existsSync(flags.out) && statSync(flags.out).isDirectory()) throw new UsageError(`--out ${flags.out} is a folder`);
      const netG = readTorchFile(gPath);
      const netD = flags.netD === undefined ? undefined : readTorchFile(flags.netD);
      const config = inferFromFiles(netG, gPath, netD, flags.netD);
      const sources: Record<string, string> = { netG: gPath };
      if (flags.netD !== undefined) sources['netD'] = flags.netD;
      try {
        saveWeights(flags.out, config, netG, netD ?? null, sources);
      } catch (error) {
        if (error instanceof WeightsError) throw new UsageError(error.message);
        throw error;
      }
      if (flags.json) console.log(JSON.stringify({ out: flags.out, config, netG: gPath, netD: flags.netD ?? null, tensors: netG.size + (netD?.size ?? 0) }));
      else console.log(`wrote ${flags.out}: ${gPath}${flags.netD ? ` and ${flags.netD}` : ''} (${describeConfig(config, netD !== undefined)})`);
    });
}
