/**
 * `dcgan eval`: sample quality of a generator (a checkpoint's, or one from a weights file or a
 * PyTorch netG.pth, through model-source.ts as `dcgan sample` reads them) against a data set, in the
 * feature space of a local classifier (fid_local, kid_local, precision_local, recall_local,
 * classifier score, class histogram). Samples are generated and embedded --batch-size at a
 * time, so memory stays bounded for any --n.
 */
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { resolve } from 'node:path';
import { DatasetError, openDataset } from '../data/index.js';
import { loadFeatureExtractor, type FeatureExtractor } from '../eval/extractor.js';
import { evaluateGenerator, extractorInfo, type EvalPhase, type EvalReport } from '../eval/evaluate.js';
import { randn } from '../ops/create.js';
import { Generator } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import { generate } from '../train/trainer.js';
import { intOption, UsageError } from './errors.js';
import { openModelSource, samplingGenerator } from './model-source.js';
import { checkpointPath, engineOptions, setupEngine } from './options.js';
import { createPreparationProgress } from './progress.js';

interface EvalFlags {
  checkpoint: string;
  data?: string;
  dataRoot?: string;
  n: number;
  batchSize: number;
  seed: number;
  json?: boolean;
  rawWeights?: boolean;
  backend?: string;
  threads?: number;
}

const PHASE_LABEL: Record<EvalPhase | 'classifier', string> = {
  classifier: 'training the feature classifier',
  real: 'embedding real images',
  samples: 'generating and embedding samples',
  metrics: 'computing the metrics',
};

/** Progress: a bar on a terminal (stderr), JSON lines with --json, nothing otherwise but the notes. */
function progress(json: boolean) {
  const tty = !json && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  let current: string | null = null;
  const phaseStart = new Map<string, number>();
  const reported = new Set<string>();
  const stop = () => {
    bar?.stop();
    bar = null;
    current = null;
  };
  return {
    update(phase: EvalPhase | 'classifier', done: number, total: number, extra: Record<string, unknown> = {}): void {
      if (json) {
        // One line per phase, when it ends, with its duration.
        const now = performance.now();
        if (!phaseStart.has(phase)) phaseStart.set(phase, now);
        if (done >= total && !reported.has(phase)) {
          reported.add(phase);
          console.log(JSON.stringify({ event: 'phase', phase, done, total, seconds: (now - phaseStart.get(phase)!) / 1000, ...extra }));
        }
        return;
      }
      if (!tty) return;
      if (current !== phase) {
        stop();
        bar = new cliProgress.SingleBar(
          { format: `${PHASE_LABEL[phase].padEnd(34)} [{bar}] {value}/{total} {extra}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, { extra: '' });
        current = phase;
      }
      const text = Object.entries(extra)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(3) : String(v)}`)
        .join('  ');
      bar?.update(done, { extra: text });
      if (done >= total) stop();
    },
    note(message: string): void {
      stop();
      if (json) console.log(JSON.stringify({ event: 'note', message }));
      else console.error(message);
    },
    stop,
  };
}

function fmt(v: number | null, digits = 4): string {
  return v === null ? 'n/a' : v.toFixed(digits);
}

function printReport(report: EvalReport, extractor: FeatureExtractor): void {
  const ex = report.feature_extractor;
  const acc = ex.test_accuracy === null ? 'no test accuracy (random weights)' : `test accuracy ${(100 * ex.test_accuracy).toFixed(2)}%`;
  console.log(`feature_extractor   ${ex.id} (${ex.kind}, ${acc})`);
  console.log(`samples             ${report.n_generated} generated vs ${report.n_real} real`);
  console.log(`fid_local           ${fmt(report.fid_local)}`);
  console.log(`kid_local           ${fmt(report.kid_local.mean, 6)} ± ${fmt(report.kid_local.std, 6)} (${report.kid_local.subsets} subsets of ${report.kid_local.subset_size})`);
  console.log(`precision_local     ${fmt(report.precision_local)} (k = ${report.k})`);
  console.log(`recall_local        ${fmt(report.recall_local)}`);
  if (report.class_histogram !== null && report.class_histogram_real !== null) {
    console.log(`classifier_score    ${fmt(report.classifier_score, 3)} (real images: ${fmt(report.classifier_score_real, 3)}, at most ${extractor.classes?.length ?? '?'})`);
    console.log(`class_histogram     ${report.classes_covered} of ${Object.keys(report.class_histogram).length} classes covered; generated / real:`);
    const width = Math.max(...Object.keys(report.class_histogram).map((k) => k.length));
    for (const [name, count] of Object.entries(report.class_histogram)) {
      console.log(`  ${name.padEnd(width)}  ${String(count).padStart(6)}  ${String(report.class_histogram_real[name] ?? 0).padStart(6)}`);
    }
    if (report.conditional_accuracy !== null) console.log(`conditional_accuracy ${fmt(report.conditional_accuracy, 4)} (samples the classifier assigns to the class they were drawn for)`);
  } else {
    console.log('classifier_score    n/a (the data set has no labels)');
  }
  console.log('(local: statistics in this extractor\'s feature space, not Inception-v3\'s; comparable only between evaluations with the same extractor id)');
}

export function evalCommand(): Command {
  return engineOptions(new Command('eval'))
    .description("sample quality of a generator (a checkpoint's, a weights file's or a PyTorch netG.pth): FID, KID, precision/recall in a locally trained classifier's feature space")
    .requiredOption('--checkpoint <file|dir>', 'a checkpoint.safetensors (or the run folder holding it), a weights file from dcgan import, or a PyTorch netG.pth (these need --data)')
    .option('--data <name|dir>', "the real images: shapes, mnist, fashion-mnist, cifar10 or an image folder (default: the checkpoint's; required for weights and .pth files)")
    .option('--data-root <dir>', 'where the mnist / fashion-mnist / cifar10 files are (default: the checkpoint\'s, or their usual place)')
    .option('--n <count>', 'generated images, and real images (capped at the data set size)', intOption('--n', 2), 10000)
    .option('--batch-size <n>', 'images generated and embedded at a time', intOption('--batch-size', 1), 250)
    .option('--seed <n>', 'seed of the noise, the real-image choice and the KID subsets', intOption('--seed', 0), 0)
    .option('--json', 'JSON lines: start, one line per phase (with its seconds), the extractor, then one result object')
    .option('--raw-weights', "evaluate G's trained weights even where the checkpoint keeps a generator average (--ema)")
    .action(async (flags: EvalFlags) => {
      const engine = setupEngine(flags.backend, flags.threads);
      const source = openModelSource(flags.checkpoint);
      const path = source.kind === 'checkpoint' ? checkpointPath(flags.checkpoint) : flags.checkpoint;
      const { nz, imageSize, channels } = source.config;
      const config = source.training ?? {};
      const data = flags.data ?? (typeof config['data'] === 'string' ? config['data'] : undefined);
      if (data === undefined) {
        throw new UsageError(
          source.kind === 'checkpoint' ? `--data is required: ${path} does not name its data set` : `--data is required with a ${source.kind === 'pytorch' ? 'PyTorch .pth' : 'weights'} file (${path}): it does not name its data set`,
        );
      }
      const savedRoot = typeof config['dataRoot'] === 'string' && flags.data === undefined ? config['dataRoot'] : undefined;
      const root = flags.dataRoot !== undefined ? resolve(flags.dataRoot) : savedRoot;
      const { netG, weights } = samplingGenerator(source, flags.rawWeights);
      const ui = progress(flags.json === true);
      if (flags.json) console.log(JSON.stringify({ event: 'start', checkpoint: path, source: source.kind, step: source.step, data, n: flags.n, batch_size: flags.batchSize, seed: flags.seed, backend: engine.backend, threads: engine.threads }));
      const warn = (message: string) => ui.note(`dcgan: warning: ${message}`);
      try {
        const preparation = createPreparationProgress(flags.json ? 'json' : process.stderr.isTTY ? 'bar' : 'plain');
        let real;
        try {
          real = await openDataset(data, { imageSize, channels, root, onWarning: warn, onProgress: preparation.onProgress });
        } finally {
          preparation.stop();
        }
        const extractor = await loadFeatureExtractor(data, {
          imageSize,
          channels,
          root,
          dataset: real,
          onLog: (message) => ui.note(message),
          onWarning: warn,
          onProgress: (done, total, loss, accuracy) => ui.update('classifier', done, total, { loss, accuracy }),
        });
        ui.stop();
        if (flags.json) console.log(JSON.stringify({ event: 'extractor', ...extractorInfo(extractor), train_seconds: extractor.trainSeconds, trained_now: extractor.trained, file: extractor.file }));
        if (extractor.caveat !== null) ui.note(`dcgan: caveat: ${extractor.caveat}`);
        if (flags.n > real.length) ui.note(`dcgan: note: ${data} has ${real.length} images; comparing ${flags.n} samples with all of them`);
        const rng = new Generator(flags.seed);
        // A conditional generator is asked for every class in turn (image i: class i mod K).
        const numClasses = source.config.numClasses ?? 0;
        const labels = numClasses > 0 ? Array.from({ length: flags.n }, (_, i) => i % numClasses) : undefined;
        const report = evaluateGenerator(extractor, real, {
          labels,
          n: flags.n,
          batchSize: flags.batchSize,
          seed: flags.seed,
          sample: (count, classes) =>
            tidy(() => {
              const images = generate(netG, randn([count, nz, 1, 1], { generator: rng }), classes);
              return Float32Array.from(images.data);
            }),
          onProgress: (phase, done, total) => ui.update(phase, done, total),
        });
        ui.stop();
        if (flags.json) console.log(JSON.stringify({ event: 'result', checkpoint: path, source: source.kind, step: source.step, data, seed: flags.seed, weights, ...report }));
        else printReport(report, extractor);
      } catch (error) {
        ui.stop();
        if (error instanceof DatasetError) throw new UsageError(error.message);
        throw error;
      }
    });
}
