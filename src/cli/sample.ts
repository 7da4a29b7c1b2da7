import { Command } from 'commander';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randn, tensor } from '../ops/create.js';
import { Generator } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import { loadNetworks, CheckpointError, type LoadedCheckpoint } from '../io/checkpoint.js';
import { saveImage, saveImageGrid, type ImageBatch } from '../io/png.js';
import { DcganGenerator } from '../models/dcgan.js';
import { latentWalks } from '../models/latent.js';
import { generate } from '../train/trainer.js';
import { intOption, UsageError } from './errors.js';
import { openCheckpoint, setupEngine, engineOptions } from './options.js';

interface EngineFlags {
  backend?: string;
  threads?: number;
}

interface SampleFlags extends EngineFlags {
  checkpoint: string;
  n: number;
  batchSize: number;
  seed?: number;
  out: string;
  nrow: number;
  individual?: string;
  json?: boolean;
}

interface InterpolateFlags extends EngineFlags {
  checkpoint: string;
  steps: number;
  rows: number;
  slerp?: boolean;
  seed?: number;
  out: string;
  json?: boolean;
}

function generatorFrom(checkpoint: LoadedCheckpoint): DcganGenerator {
  const netG = new DcganGenerator(checkpoint.model);
  try {
    loadNetworks(checkpoint, netG);
  } catch (error) {
    if (error instanceof CheckpointError) throw new UsageError(error.message);
    throw error;
  }
  return netG;
}

/** A random seed when none is given; printed so the output can be reproduced. */
function pickSeed(seed: number | undefined): number {
  return seed ?? Math.floor(Math.random() * 2 ** 31);
}

/**
 * `n` images from `netG`, generated `batchSize` at a time into one float array, so the engine
 * only ever holds one batch's activations (all n at once needed gigabytes of WebAssembly
 * memory for n = 5000). The noise is drawn in order from one generator, so the images are
 * those of a single batch of n.
 */
export function generateInBatches(netG: DcganGenerator, n: number, batchSize: number, generator: Generator): ImageBatch {
  const { nz, imageSize, channels } = netG.config;
  const per = channels * imageSize * imageSize;
  const data = new Float32Array(n * per);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    tidy(() => {
      const images = generate(netG, randn([count, nz, 1, 1], { generator }));
      data.set(images.data, start * per);
    });
  }
  return { shape: [n, channels, imageSize, imageSize], data };
}

/** The images of given latent vectors (n × nz values), `batchSize` at a time. */
export function generateFromLatents(netG: DcganGenerator, latents: Float32Array, batchSize: number): ImageBatch {
  const { nz, imageSize, channels } = netG.config;
  const n = latents.length / nz;
  const per = channels * imageSize * imageSize;
  const data = new Float32Array(n * per);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    tidy(() => {
      const images = generate(netG, tensor(latents.subarray(start * nz, (start + count) * nz), [count, nz, 1, 1]));
      data.set(images.data, start * per);
    });
  }
  return { shape: [n, channels, imageSize, imageSize], data };
}

function checkOutFile(out: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a folder; give a .png file name`);
  if (!out.toLowerCase().endsWith('.png')) throw new UsageError(`--out must be a .png file, got '${out}'`);
}

export function sampleCommand(): Command {
  return engineOptions(new Command('sample'))
    .description("generate images from a checkpoint's generator")
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it)')
    .option('--n <count>', 'number of images', intOption('--n', 1), 64)
    .option('--batch-size <n>', 'images generated at a time (bounds memory)', intOption('--batch-size', 1), 250)
    .option('--seed <n>', 'seed of the noise (default: random, printed)', intOption('--seed', 0))
    .option('--out <file.png>', 'grid image to write', 'samples.png')
    .option('--nrow <n>', 'images per grid row', intOption('--nrow', 1), 8)
    .option('--individual <dir>', 'also write each image as its own PNG into this folder')
    .option('--json', 'print one JSON object describing what was written')
    .action((flags: SampleFlags) => {
      setupEngine(flags.backend, flags.threads);
      checkOutFile(flags.out);
      const checkpoint = openCheckpoint(flags.checkpoint);
      const seed = pickSeed(flags.seed);
      const { imageSize, channels } = checkpoint.model;
      const netG = generatorFrom(checkpoint);
      const files: string[] = [];
      const images = generateInBatches(netG, flags.n, flags.batchSize, new Generator(seed));
      saveImageGrid(flags.out, images, { nrow: flags.nrow });
      if (flags.individual !== undefined) {
        mkdirSync(flags.individual, { recursive: true });
        const digits = Math.max(3, String(flags.n - 1).length);
        for (let i = 0; i < flags.n; i++) {
          const file = join(flags.individual, `sample_${String(i).padStart(digits, '0')}.png`);
          saveImage(file, images, i);
          files.push(file);
        }
      }
      const summary = { out: flags.out, n: flags.n, seed, imageSize, channels, step: checkpoint.step, individual: files.length > 0 ? flags.individual : null };
      if (flags.json) console.log(JSON.stringify(summary));
      else {
        console.log(`wrote ${flags.out}: ${flags.n} samples of ${channels}×${imageSize}×${imageSize} from step ${checkpoint.step} (seed ${seed})`);
        if (files.length > 0) console.log(`wrote ${files.length} images into ${flags.individual}`);
      }
    });
}

export function interpolateCommand(): Command {
  return engineOptions(new Command('interpolate'))
    .description('latent walks: rows of images between random pairs of z (straight lines, or great circles with --slerp)')
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it)')
    .option('--steps <n>', 'images per walk, both ends included', intOption('--steps', 2), 10)
    .option('--rows <n>', 'number of walks (rows)', intOption('--rows', 1), 8)
    .option('--slerp', 'spherical interpolation, as ganhacks recommends for Gaussian z (default: linear)')
    .option('--seed <n>', 'seed of the endpoints (default: random, printed)', intOption('--seed', 0))
    .option('--out <file.png>', 'image to write', 'interpolation.png')
    .option('--json', 'print one JSON object describing what was written')
    .action((flags: InterpolateFlags) => {
      setupEngine(flags.backend, flags.threads);
      checkOutFile(flags.out);
      const checkpoint = openCheckpoint(flags.checkpoint);
      const seed = pickSeed(flags.seed);
      const { nz } = checkpoint.model;
      const netG = generatorFrom(checkpoint);
      const ends = new Float32Array(2 * flags.rows * nz);
      new Generator(seed).fillNormal(ends);
      const walks = latentWalks(ends, nz, flags.rows, flags.steps, flags.slerp === true);
      saveImageGrid(flags.out, generateFromLatents(netG, walks, 250), { nrow: flags.steps });
      const mode = flags.slerp ? 'slerp' : 'linear';
      if (flags.json) console.log(JSON.stringify({ out: flags.out, rows: flags.rows, steps: flags.steps, interpolation: mode, seed, step: checkpoint.step }));
      else console.log(`wrote ${flags.out}: ${flags.rows} walks × ${flags.steps} images (${mode}, seed ${seed}) from step ${checkpoint.step}`);
    });
}
