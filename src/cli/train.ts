import { Command, Option } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { datasetName, DatasetError, LazyFolderDataset, openDataset, type ImageDataset } from '../data/index.js';
import type { LoadedCheckpoint } from '../train/checkpoint.js';
import { ensureDir } from '../io/dirs.js';
import {
  configDifferences,
  DEFAULT_TRAIN_CONFIG,
  parseSetting,
  RESUME_FIXED_KEYS,
  resolveTrainConfig,
  runTraining,
  RUN_FILES,
  settingFlag,
  TRAIN_SETTING_KEYS,
  TRAIN_SETTINGS,
  TrainConfigError,
  type TrainConfig,
} from '../train/index.js';
import { intOption, UsageError } from './errors.js';
import { checkpointPath, openCheckpoint, setupEngine, engineOptions } from './options.js';
import { createPreparationProgress, createReporter, formatDuration, type ProgressMode } from './progress.js';
import { onStopSignals } from './signals.js';
import { startServer } from './serve.js';

/** What commander parses: the TrainConfig settings (TRAIN_SETTINGS) and the flags of this command itself. */
type TrainFlags = Partial<TrainConfig> & {
  data: string;
  steps?: number;
  epochs?: number;
  logEvery: number;
  backend?: string;
  threads?: number;
  out?: string;
  json?: boolean;
  resume?: string;
  serve?: boolean;
  port: number;
};

const d = DEFAULT_TRAIN_CONFIG;

/** A commander option for each setting with a flag, parsed and range-checked by the config module. */
function settingOptions(command: Command): Command {
  for (const key of TRAIN_SETTING_KEYS) {
    const spec = TRAIN_SETTINGS[key];
    if (spec.cli === null) continue;
    if (spec.type === 'flag') {
      command.addOption(new Option(settingFlag(key), spec.cli.help));
      continue;
    }
    const option = new Option(`${settingFlag(key)} ${spec.cli.value}`, spec.cli.help).argParser((raw: string) => {
      try {
        return parseSetting(key, raw);
      } catch (error) {
        configError(error);
      }
    });
    const fallback = d[key];
    if (fallback !== null) option.default(fallback);
    command.addOption(option);
  }
  return command;
}

export function trainCommand(): Command {
  return settingOptions(engineOptions(new Command('train')))
    .description('train a DCGAN; with no options: 32×32 shapes, a small model, a few minutes')
    .addOption(new Option('--steps <n>', `total training steps (default ${d.steps}; with --resume: the checkpoint's target)`).argParser(intOption('--steps', 1)).conflicts('epochs'))
    .addOption(new Option('--epochs <n>', 'train for this many passes over the dataset instead of --steps').argParser(intOption('--epochs', 1)))
    .option('--log-every <n>', 'print a progress line every n steps (with --json or without a terminal)', intOption('--log-every', 1), 25)
    .option('--out <dir>', 'run folder (default: runs/<date>-<time>)')
    .option('--json', 'print one JSON object per line (start, every --log-every steps, end) instead of a progress bar')
    .option('--resume <dir>', 'continue the run in this folder from its checkpoint, exactly where it stopped')
    .option('--serve', 'serve the live dashboard and explorer of this run (dcgan serve --run) while it trains')
    .option('--port <n>', 'with --serve: the port (0: any free port)', intOption('--port', 0), 8080)
    .action(async (flags: TrainFlags, command: Command) => {
      await train(flags, command);
    });
}

/**
 * Settings in their canonical form, as checkpoints record them: a built-in data set by its
 * name, folders as absolute paths (so a resumed run finds them from anywhere).
 */
export function normaliseSettings(settings: Partial<TrainConfig>): Partial<TrainConfig> {
  const out = { ...settings };
  if (out.data !== undefined) out.data = datasetName(out.data) ?? (existsSync(out.data) ? resolve(out.data) : out.data);
  if (out.dataRoot !== undefined && out.dataRoot !== null) out.dataRoot = resolve(out.dataRoot);
  return out;
}

function explicit(command: Command, key: string): boolean {
  const source = command.getOptionValueSource(key);
  return source !== undefined && source !== 'default' && source !== 'implied';
}

function configError(error: unknown): never {
  if (error instanceof TrainConfigError || error instanceof DatasetError) throw new UsageError(error.message);
  throw error;
}

function timestampDir(): string {
  const now = new Date();
  const pad = (n: number): string => String(n).padStart(2, '0');
  const base = join('runs', `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`);
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

async function train(flags: TrainFlags, command: Command): Promise<void> {
  const engine = setupEngine(flags.backend, flags.threads);
  const mode: ProgressMode = flags.json ? 'json' : process.stderr.isTTY ? 'bar' : 'plain';
  const reporter = createReporter(mode, flags.logEvery, { ...engine });
  const warnings: string[] = [];
  const onWarning = (message: string): void => {
    warnings.push(message);
    reporter.note(`warning: ${message}`);
  };

  let resume: LoadedCheckpoint | undefined;
  let outDir: string;
  const given: Partial<TrainConfig> = {};
  for (const key of TRAIN_SETTING_KEYS) {
    if (explicit(command, key)) (given as Record<string, unknown>)[key] = flags[key];
  }
  const requested = normaliseSettings(given);

  let base: Partial<TrainConfig>;
  if (flags.resume !== undefined) {
    if (flags.out !== undefined) throw new UsageError('--out cannot be combined with --resume: a resumed run continues in its own folder');
    const file = checkpointPath(flags.resume);
    resume = openCheckpoint(file);
    outDir = dirname(file);
    const saved = resume.config;
    const differences = configDifferences(saved, requested, RESUME_FIXED_KEYS);
    if (differences.length > 0) {
      throw new UsageError(`the checkpoint ${file} was trained with other settings: ${differences.join('; ')} — leave these flags out to continue it, or start a new run`);
    }
    base = saved as Partial<TrainConfig>;
  } else {
    outDir = flags.out ?? timestampDir();
    if (existsSync(outDir)) {
      if (!statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir} is a file, not a folder`);
      if (existsSync(join(outDir, RUN_FILES.checkpoint))) {
        throw new UsageError(`${outDir} already holds a run (${RUN_FILES.checkpoint}); continue it with --resume ${outDir} or choose another --out`);
      }
      if (readdirSync(outDir).length > 0) reporter.note(`note: writing into the existing folder ${outDir}`);
    }
    base = { ...DEFAULT_TRAIN_CONFIG, ...normaliseSettings({ data: flags.data }) };
  }

  // Validate the settings before touching the data (steps filled in below).
  let config: TrainConfig;
  try {
    config = resolveTrainConfig({ ...base, ...requested, steps: base.steps ?? DEFAULT_TRAIN_CONFIG.steps });
  } catch (error) {
    configError(error);
  }
  ensureDir(outDir, resume ? '--resume' : '--out'); // fails fast on /proc/x, a path under a file, a read-only folder

  let dataset: ImageDataset;
  const preparation = createPreparationProgress(mode);
  try {
    dataset = await openDataset(config.data, {
      imageSize: config.imageSize,
      channels: config.channels,
      seed: config.seed,
      root: config.dataRoot ?? undefined,
      maxImagePixels: config.maxImagePixels,
      onWarning,
      onProgress: preparation.onProgress,
    });
  } catch (error) {
    preparation.stop();
    configError(error);
  }
  const prepared = preparation.stop();
  const cached = (dataset as { cache?: { file: string; built: boolean } }).cache;
  if (dataset instanceof LazyFolderDataset) {
    if (mode !== 'json') reporter.note(`preparing the image cache ${cached!.file} in the background; until it is done, images not yet prepared are decoded when a batch needs them`);
  } else if (cached?.built && mode !== 'json') reporter.note(`prepared the image cache ${cached.file} in ${formatDuration(prepared)} (reused while the folder is unchanged)`);
  if (config.batchSize > dataset.length) {
    throw new UsageError(`--batch-size ${config.batchSize} is larger than the dataset ${dataset.name} (${dataset.length} images)`);
  }
  const batchesPerEpoch = Math.floor(dataset.length / config.batchSize);
  if (flags.epochs !== undefined) config = { ...config, steps: flags.epochs * batchesPerEpoch };
  else if (flags.steps !== undefined) config = { ...config, steps: flags.steps };
  if (resume && config.steps <= resume.step) {
    throw new UsageError(`the checkpoint is already at step ${resume.step} of ${config.steps}; pass --steps (or --epochs) beyond it to train further`);
  }

  if (mode !== 'json') {
    const epochs = config.steps / batchesPerEpoch;
    reporter.note(
      `${resume ? `resuming at step ${resume.step}` : 'training'}: ${dataset.name} (${dataset.length} images, ${config.channels}×${config.imageSize}×${config.imageSize}), ` +
        `${config.steps} steps of ${config.batchSize} (${epochs >= 10 ? epochs.toFixed(0) : Number(epochs.toPrecision(2))} epochs), ngf ${config.ngf} ndf ${config.ndf}, ` +
        `backend ${engine.summary} → ${outDir}`,
    );
  }
  // With --json the hint is in the start event (stderr stays for errors).
  if (engine.hint !== null && mode !== 'json') reporter.note(`note: ${engine.hint}`);

  // The dashboard follows the folder as it fills (the server copes with files that appear later).
  const server = flags.serve ? await startServer({ run: outDir, port: flags.port }) : null;
  if (server !== null) reporter.note(`dashboard: ${server.url}#dashboard (explorer: ${server.url})`);
  const controller = new AbortController();
  const stopSignals = onStopSignals(controller, reporter); // SIGINT, SIGTERM, SIGHUP
  let result;
  try {
    result = await runTraining({
      config,
      outDir,
      resume,
      dataset,
      signal: controller.signal,
      onEvent: (event) => reporter.onEvent(event),
      onWarning,
      onNote: (message) => reporter.note(message),
      environment: { backend: engine.backend, threads: engine.threads, engine: engine.summary },
    });
  } finally {
    reporter.stop();
    stopSignals.dispose();
    await server?.close();
    // A failed run does not stay alive to finish a lazily opened folder's cache (its temporary file is removed).
    if (result === undefined && dataset instanceof LazyFolderDataset) dataset.close();
  }
  if (dataset instanceof LazyFolderDataset && !dataset.complete) {
    if (result.status === 'completed') {
      // The workers keep the process alive until the cache is finished anyway: say why it waits.
      if (mode !== 'json') reporter.note(`finishing the image cache ${dataset.cache.file} for the next runs (Ctrl-C skips it; the next run then prepares it again)`);
    } else {
      dataset.close();
    }
    await dataset.ready;
  }

  const report = join(outDir, RUN_FILES.report);
  switch (result.status) {
    case 'completed':
      if (mode !== 'json') {
        reporter.note(`done: ${result.step} steps in ${formatDuration(result.elapsedSeconds)} of training`);
        reporter.note(`  samples:    ${join(outDir, RUN_FILES.finalSamples)}`);
        reporter.note(`  checkpoint: ${join(outDir, RUN_FILES.checkpoint)}`);
        reporter.note(`  report:     ${report}`);
      }
      return;
    case 'interrupted':
      if (mode !== 'json') reporter.note(`interrupted at step ${result.step}; checkpoint written to ${join(outDir, RUN_FILES.checkpoint)}; continue with: dcgan train --resume ${outDir}`);
      process.exitCode = stopSignals.exitCode; // 130, 143 or 129
      return;
    case 'diverged':
      throw new UsageError(result.message ?? 'training diverged', 1);
  }
}
