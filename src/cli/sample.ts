import { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Generator } from '../tensor/random.js';
import { ensureDir } from '../io/dirs.js';
import { saveImage, saveImageGrid } from '../io/png.js';
import { latentWalks } from '../models/latent.js';
import { generateFromLatents, generateInBatches } from '../train/trainer.js';
import { intOption, UsageError } from './errors.js';
import { setupEngine, engineOptions } from './options.js';
import { openModelSource, samplingGenerator, type ModelSource } from './model-source.js';

interface EngineFlags {
  backend?: string;
  threads?: number;
  /** Sample from the trained weights even where the checkpoint has a generator average. */
  rawWeights?: boolean;
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
  /** For a conditional model: the class to draw (a name or an index). */
  class?: string;
}

interface InterpolateFlags extends EngineFlags {
  checkpoint: string;
  steps: number;
  rows: number;
  slerp?: boolean;
  seed?: number;
  out: string;
  json?: boolean;
  class?: string;
}

/** --class as a class index: a name (any case) or an index; an error names the choices. */
function classIndex(source: ModelSource, wanted: string | undefined): number | null {
  if (wanted === undefined) return null;
  const names = source.classes;
  if (names === null) throw new UsageError(`--class ${wanted}: this generator is unconditional (train with --conditional)`);
  const byName = names.findIndex((n) => n.toLowerCase() === wanted.toLowerCase());
  if (byName >= 0) return byName;
  const index = Number(wanted);
  if (Number.isInteger(index) && index >= 0 && index < names.length) return index;
  throw new UsageError(`--class must be one of ${names.join(', ')} (or 0..${names.length - 1}), got '${wanted}'`);
}

/**
 * The labels of n samples of a conditional generator: all of one class with --class,
 * otherwise one row per class (n is rounded down to whole rows). Null for unconditional ones.
 */
function sampleLabels(source: ModelSource, n: number, wanted: string | undefined): { labels: number[] | null; n: number; perRow: number | null } {
  const classes = source.config.numClasses ?? 0;
  const chosen = classIndex(source, wanted);
  if (classes === 0) return { labels: null, n, perRow: null };
  if (chosen !== null) return { labels: new Array<number>(n).fill(chosen), n, perRow: null };
  const perRow = Math.max(1, Math.floor(n / classes));
  return { labels: Array.from({ length: perRow * classes }, (_, i) => Math.floor(i / perRow)), n: perRow * classes, perRow };
}

/** A random seed when none is given; printed so the output can be reproduced. */
function pickSeed(seed: number | undefined): number {
  return seed ?? Math.floor(Math.random() * 2 ** 31);
}

function checkOutFile(out: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a folder; give a .png file name`);
  if (!out.toLowerCase().endsWith('.png')) throw new UsageError(`--out must be a .png file, got '${out}'`);
  const folder = dirname(out);
  if (!existsSync(folder)) throw new UsageError(`--out ${out}: the folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory()) throw new UsageError(`--out ${out}: ${folder} is a file, not a folder`);
}

export function sampleCommand(): Command {
  return engineOptions(new Command('sample'))
    .description("generate images from a checkpoint's generator")
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it), a weights file from dcgan import, or a PyTorch netG.pth')
    .option('--n <count>', 'number of images', intOption('--n', 1), 64)
    .option('--batch-size <n>', 'images generated at a time (bounds memory)', intOption('--batch-size', 1), 250)
    .option('--seed <n>', 'seed of the noise (default: random, printed)', intOption('--seed', 0))
    .option('--out <file.png>', 'grid image to write', 'samples.png')
    .option('--nrow <n>', 'images per grid row', intOption('--nrow', 1), 8)
    .option('--individual <dir>', 'also write each image as its own PNG into this folder')
    .option('--json', 'print one JSON object describing what was written')
    .option('--raw-weights', "use G's trained weights even where the checkpoint keeps a generator average (--ema)")
    .option('--class <name|index>', 'conditional models: draw this class (default: one row per class)')
    .action((flags: SampleFlags) => {
      setupEngine(flags.backend, flags.threads);
      checkOutFile(flags.out);
      if (flags.individual !== undefined) ensureDir(flags.individual, '--individual');
      const source = openModelSource(flags.checkpoint);
      const seed = pickSeed(flags.seed);
      const { imageSize, channels } = source.config;
      const { netG, weights } = samplingGenerator(source, flags.rawWeights);
      const { labels, n, perRow } = sampleLabels(source, flags.n, flags.class);
      const files: string[] = [];
      const images = generateInBatches(netG, n, flags.batchSize, new Generator(seed), labels ?? undefined);
      saveImageGrid(flags.out, images, { nrow: perRow ?? flags.nrow });
      if (flags.individual !== undefined) {
        const digits = Math.max(3, String(n - 1).length);
        for (let i = 0; i < n; i++) {
          const file = join(flags.individual, `sample_${String(i).padStart(digits, '0')}.png`);
          saveImage(file, images, i);
          files.push(file);
        }
      }
      const className = labels === null ? null : flags.class === undefined ? 'one row per class' : source.classes![labels[0]!]!;
      const summary = { out: flags.out, n, seed, imageSize, channels, step: source.step, weights, class: className, individual: files.length > 0 ? flags.individual : null };
      if (flags.json) console.log(JSON.stringify(summary));
      else {
        const what = [weights === 'average' ? 'generator average' : null, className, `seed ${seed}`].filter((w) => w !== null).join(', ');
        console.log(`wrote ${flags.out}: ${n} samples of ${channels}×${imageSize}×${imageSize} ${source.step === null ? `from ${flags.checkpoint}` : `from step ${source.step}`} (${what})`);
        if (files.length > 0) console.log(`wrote ${files.length} images into ${flags.individual}`);
      }
    });
}

export function interpolateCommand(): Command {
  return engineOptions(new Command('interpolate'))
    .description('latent walks: rows of images between random pairs of z (straight lines, or great circles with --slerp)')
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it), a weights file from dcgan import, or a PyTorch netG.pth')
    .option('--steps <n>', 'images per walk, both ends included', intOption('--steps', 2), 10)
    .option('--rows <n>', 'number of walks (rows)', intOption('--rows', 1), 8)
    .option('--slerp', 'spherical interpolation, as ganhacks recommends for Gaussian z (default: linear)')
    .option('--seed <n>', 'seed of the endpoints (default: random, printed)', intOption('--seed', 0))
    .option('--out <file.png>', 'image to write', 'interpolation.png')
    .option('--json', 'print one JSON object describing what was written')
    .option('--raw-weights', "use G's trained weights even where the checkpoint keeps a generator average (--ema)")
    .option('--class <name|index>', 'conditional models: walk within this class (default: row r shows class r mod K)')
    .action((flags: InterpolateFlags) => {
      setupEngine(flags.backend, flags.threads);
      checkOutFile(flags.out);
      const source = openModelSource(flags.checkpoint);
      const seed = pickSeed(flags.seed);
      const { nz, numClasses = 0 } = source.config;
      const { netG } = samplingGenerator(source, flags.rawWeights);
      const chosen = classIndex(source, flags.class);
      const ends = new Float32Array(2 * flags.rows * nz);
      new Generator(seed).fillNormal(ends);
      const walks = latentWalks(ends, nz, flags.rows, flags.steps, flags.slerp === true);
      const labels = numClasses === 0 ? undefined : Array.from({ length: flags.rows * flags.steps }, (_, i) => chosen ?? Math.floor(i / flags.steps) % numClasses);
      saveImageGrid(flags.out, generateFromLatents(netG, walks, 250, labels), { nrow: flags.steps });
      const mode = flags.slerp ? 'slerp' : 'linear';
      if (flags.json) console.log(JSON.stringify({ out: flags.out, rows: flags.rows, steps: flags.steps, interpolation: mode, seed, step: source.step }));
      else console.log(`wrote ${flags.out}: ${flags.rows} walks × ${flags.steps} images (${mode}, seed ${seed}) from step ${source.step}`);
    });
}
