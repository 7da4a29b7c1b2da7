/**
 * A training run on disk: everything `dcgan train` writes into its folder.
 *
 *   config.json              the settings (TrainConfig) and the backend
 *   real_samples.png         a grid of training images
 *   samples/step_000100.png  fixed-noise grids every `sampleEvery` steps and at the end
 *   final_samples.png        the last grid
 *   metrics.jsonl            one JSON line per step
 *   loss.svg, loss.png       the loss plot
 *   checkpoint.safetensors   the whole training state, every `checkpointEvery` steps and at the end
 *   report.html              config, loss plot, grids over time, final and real samples
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tidy } from '../tensor/scope.js';
import { Generator } from '../tensor/random.js';
import { randn } from '../ops/create.js';
import { loadFeatureExtractor } from '../eval/extractor.js';
import { evaluateGenerator } from '../eval/evaluate.js';
import { CheckpointError, saveCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { saveImageGrid } from '../io/png.js';
import { renderLossPlotSvg, renderMetricPlotSvg, svgToPng, type LossPoint } from '../io/plot.js';
import { writeReport, type ReportGrid } from '../io/report.js';
import { removeStaleTemporaries, writeFileAtomic } from '../io/atomic.js';
import { ensureDir } from '../io/dirs.js';
import { openDataset, type ImageDataset } from '../data/index.js';
import type { TrainConfig } from './config.js';
import { DivergenceError, GanTrainer, type StepMetrics } from './trainer.js';

export const RUN_FILES = {
  config: 'config.json',
  realSamples: 'real_samples.png',
  samples: 'samples',
  finalSamples: 'final_samples.png',
  metrics: 'metrics.jsonl',
  lossSvg: 'loss.svg',
  lossPng: 'loss.png',
  checkpoint: 'checkpoint.safetensors',
  report: 'report.html',
} as const;

export function sampleFileName(step: number): string {
  return `step_${String(step).padStart(6, '0')}.png`;
}

export type TrainEvent =
  | { type: 'start'; config: TrainConfig; outDir: string; step: number; totalSteps: number; batchesPerEpoch: number; datasetName: string; datasetLength: number; resumed: boolean }
  | { type: 'step'; metrics: StepMetrics; totalSteps: number }
  | { type: 'sample'; step: number; path: string }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'end'; result: RunResult };

export interface RunResult {
  /** 'completed': all steps done; 'interrupted': stopped on request (checkpoint written); 'diverged': NaN/Inf (last good checkpoint kept). */
  status: 'completed' | 'interrupted' | 'diverged';
  step: number;
  epoch: number;
  outDir: string;
  /** Step of the checkpoint on disk, or null when none was written. */
  checkpointStep: number | null;
  /** For 'diverged': what went wrong, in one line. */
  message?: string;
  elapsedSeconds: number;
}

export interface RunOptions {
  config: TrainConfig;
  outDir: string;
  /** Continue this checkpoint's run (in `outDir`, its folder); its tensor data is released once restored. */
  resume?: LoadedCheckpoint;
  /** Stop after the current step (then checkpoint, report, and return 'interrupted'). */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  onWarning?: (message: string) => void;
  /** Lines for people that are not warnings (a feature classifier being trained for --eval-every). */
  onNote?: (message: string) => void;
  /** Extra settings shown in config.json and the report (backend, threads…). */
  environment?: Record<string, unknown>;
  /** Use this dataset instead of opening config.data. */
  dataset?: ImageDataset;
  /** Called after each step with the trainer (tests use it to inject faults). */
  afterStep?: (trainer: GanTrainer, metrics: StepMetrics) => void;
}

function readMetrics(path: string): StepMetrics[] {
  if (!existsSync(path)) return [];
  const out: StepMetrics[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as StepMetrics);
    } catch {
      // A line cut short by a crash: skip it.
    }
  }
  return out;
}

/**
 * Keeps only the metric lines up to `step` (a resumed run redoes the steps after its checkpoint);
 * atomically, so that a kill at this moment cannot lose the lines kept.
 */
function truncateMetrics(path: string, step: number): void {
  const kept = readMetrics(path).filter((m) => m.step <= step);
  writeFileAtomic(path, new TextEncoder().encode(kept.map((m) => JSON.stringify(m) + '\n').join('')));
}

function sampleGrids(outDir: string): ReportGrid[] {
  const dir = join(outDir, RUN_FILES.samples);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^step_(\d+)\.png$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ src: `${RUN_FILES.samples}/${m[0]}`, step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step);
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  return `${m} min ${total - 60 * m} s`;
}

/** The numbers an --eval-every measurement adds to its step's metrics line. */
export interface QualityMetrics {
  fid_local: number;
  kid_local: number;
  precision_local: number;
  recall_local: number;
  classifier_score: number | null;
  conditional_accuracy: number | null;
  feature_extractor: string;
}

/**
 * Measures the trainer's samples against the real images with dcgan eval's local metrics. Its
 * noise comes from a generator of its own, so measuring never changes the training trajectory.
 */
async function qualityProbe(trainer: GanTrainer, dataset: ImageDataset, onNote?: (message: string) => void, onWarning?: (message: string) => void): Promise<{ measure(): QualityMetrics }> {
  const { config } = trainer;
  const extractor = await loadFeatureExtractor(config.data, { imageSize: config.imageSize, channels: config.channels, root: config.dataRoot ?? undefined, dataset, onLog: onNote, onWarning });
  if (extractor.caveat !== null) onWarning?.(extractor.caveat);
  const classes = config.numClasses ?? 0;
  return {
    measure(): QualityMetrics {
      const rng = new Generator(config.seed ^ 0x0e7a1);
      const n = config.evalSamples;
      const report = evaluateGenerator(extractor, dataset, {
        n,
        batchSize: 250,
        seed: config.seed,
        kid: { subsets: 20, subsetSize: Math.min(1000, n) },
        labels: classes > 0 ? Array.from({ length: n }, (_, i) => i % classes) : undefined,
        sample: (count, labels) => tidy(() => trainer.sample(randn([count, config.nz, 1, 1], { generator: rng }), labels).toFloat32Array()),
      });
      return {
        fid_local: report.fid_local,
        kid_local: report.kid_local.mean,
        precision_local: report.precision_local,
        recall_local: report.recall_local,
        classifier_score: report.classifier_score,
        conditional_accuracy: report.conditional_accuracy,
        feature_extractor: report.feature_extractor.id,
      };
    },
  };
}

/** Trains for `config.steps` steps in total (continuing a checkpoint's count), writing the run folder. */
export async function runTraining(options: RunOptions): Promise<RunResult> {
  const { outDir, resume, signal, onEvent } = options;
  ensureDir(join(outDir, RUN_FILES.samples));
  // A run killed mid-write (SIGKILL) left its temporary files; they are never read, so they go.
  const stale = [...removeStaleTemporaries(outDir), ...removeStaleTemporaries(join(outDir, RUN_FILES.samples)).map((name) => `${RUN_FILES.samples}/${name}`)];
  if (stale.length > 0) options.onWarning?.(`removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} left by an interrupted write (${stale.slice(0, 2).join(', ')}${stale.length > 2 ? ', …' : ''})`);
  const paths = {
    checkpoint: join(outDir, RUN_FILES.checkpoint),
    metrics: join(outDir, RUN_FILES.metrics),
    config: join(outDir, RUN_FILES.config),
  };
  const { config: asked } = options;
  const dataset =
    options.dataset ??
    (await openDataset(asked.data, {
      imageSize: asked.imageSize,
      channels: asked.channels,
      seed: asked.seed,
      root: asked.dataRoot ?? undefined,
      maxImagePixels: asked.maxImagePixels,
      onWarning: options.onWarning,
    }));
  const trainer = await GanTrainer.create(asked, { resume, dataset, onWarning: options.onWarning });
  // The trainer's config: a conditional run's adds the data's classes.
  const config = trainer.config;
  try {
    const environment = options.environment ?? {};
    writeFileAtomic(paths.config, new TextEncoder().encode(JSON.stringify({ ...config, ...environment }, null, 2) + '\n'));
    if (resume) truncateMetrics(paths.metrics, trainer.step);
    else writeFileSync(paths.metrics, '');
    tidy(() => saveImageGrid(join(outDir, RUN_FILES.realSamples), trainer.realSamples()));

    onEvent?.({
      type: 'start',
      config,
      outDir,
      step: trainer.step,
      totalSteps: config.steps,
      batchesPerEpoch: trainer.batchesPerEpoch,
      datasetName: trainer.dataset.name,
      datasetLength: trainer.dataset.length,
      resumed: resume !== undefined,
    });

    const evaluator = config.evalEvery > 0 ? await qualityProbe(trainer, dataset, options.onNote, options.onWarning) : null;
    let checkpointStep: number | null = resume ? resume.step : null;
    let status = 'completed' as RunResult['status'];
    let message: string | undefined;
    let lastGrid = -1;

    const writeGrid = (): void => {
      const path = join(outDir, RUN_FILES.samples, sampleFileName(trainer.step));
      tidy(() => saveImageGrid(path, trainer.sample()));
      lastGrid = trainer.step;
      onEvent?.({ type: 'sample', step: trainer.step, path });
    };
    const writeCheckpoint = (): void => {
      saveCheckpoint(paths.checkpoint, trainer.checkpointState());
      checkpointStep = trainer.step;
      onEvent?.({ type: 'checkpoint', step: trainer.step, path: paths.checkpoint });
    };
    const diverged = (error: DivergenceError | CheckpointError): void => {
      status = 'diverged';
      const kept = checkpointStep === null ? 'no checkpoint was written before it' : `the last good checkpoint (step ${checkpointStep}) is kept in ${paths.checkpoint}`;
      message = `${error.message}; ${kept}`;
    };

    if (trainer.step === 0 && config.sampleEvery > 0) writeGrid(); // the untrained generator, for comparison

    while (trainer.step < config.steps) {
      if (signal?.aborted) {
        status = 'interrupted';
        break;
      }
      let metrics: StepMetrics;
      try {
        metrics = trainer.trainStep();
      } catch (error) {
        if (error instanceof DivergenceError) {
          diverged(error);
          break;
        }
        throw error;
      }
      const quality = evaluator !== null && (trainer.step % config.evalEvery === 0 || trainer.step >= config.steps) ? evaluator.measure() : null;
      appendFileSync(paths.metrics, JSON.stringify(quality === null ? metrics : { ...metrics, ...quality }) + '\n');
      options.afterStep?.(trainer, metrics);
      onEvent?.({ type: 'step', metrics, totalSteps: config.steps });
      const last = trainer.step >= config.steps;
      if (!last && config.sampleEvery > 0 && trainer.step % config.sampleEvery === 0) writeGrid();
      if (!last && config.checkpointEvery > 0 && trainer.step % config.checkpointEvery === 0) {
        try {
          writeCheckpoint();
        } catch (error) {
          if (error instanceof CheckpointError) {
            diverged(new CheckpointError(`training diverged by step ${trainer.step}: ${error.message.replace(/^refusing to write a checkpoint: /, '')}`));
            break;
          }
          throw error;
        }
      }
      // Let signal handlers (Ctrl-C) run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    if (status !== 'diverged') {
      try {
        if (trainer.step !== checkpointStep) writeCheckpoint();
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        diverged(new CheckpointError(`training diverged by step ${trainer.step}: ${error.message.replace(/^refusing to write a checkpoint: /, '')}`));
      }
    }
    if (status !== 'diverged' && trainer.step > 0) {
      if (lastGrid !== trainer.step) writeGrid();
      tidy(() => saveImageGrid(join(outDir, RUN_FILES.finalSamples), trainer.sample()));
    }

    const result: RunResult = { status, step: trainer.step, epoch: trainer.epoch, outDir, checkpointStep, elapsedSeconds: trainer.elapsedSeconds };
    if (message !== undefined) result.message = message;
    await writeRunReport(outDir, config, environment, result);
    onEvent?.({ type: 'end', result });
    return result;
  } finally {
    trainer.dispose();
  }
}

/** Writes loss.svg, loss.png and report.html from the folder's metrics and images. */
export async function writeRunReport(outDir: string, config: TrainConfig, environment: Record<string, unknown>, result: RunResult): Promise<void> {
  const metrics = readMetrics(join(outDir, RUN_FILES.metrics));
  const points: LossPoint[] = metrics.map((m) => ({ step: m.step, lossD: m.lossD, lossG: m.lossG }));
  let svg: string | null = null;
  let png: string | null = null;
  if (points.length > 0) {
    svg = await renderLossPlotSvg(points, { title: `Losses (${config.data}, ${config.imageSize}×${config.imageSize})` });
    writeFileAtomic(join(outDir, RUN_FILES.lossSvg), new TextEncoder().encode(svg));
    writeFileAtomic(join(outDir, RUN_FILES.lossPng), await svgToPng(svg));
    png = RUN_FILES.lossPng;
  }
  let qualitySvg: string | null = null;
  const quality = metrics.filter((m) => typeof (m as { fid_local?: unknown }).fid_local === 'number');
  if (quality.length > 0) {
    qualitySvg = await renderMetricPlotSvg(
      quality.map((m) => ({ step: m.step, value: (m as unknown as QualityMetrics).fid_local })),
      { title: 'Sample quality: local FID (lower is better)', yTitle: 'fid_local' },
    );
  }
  const last = metrics.at(-1);
  const summary: Record<string, string> = {
    status: result.status,
    steps: `${result.step} of ${config.steps}`,
    epoch: String(result.epoch),
    'training time': formatSeconds(result.elapsedSeconds),
  };
  if (last) {
    summary['final lossD / lossG'] = `${last.lossD.toFixed(4)} / ${last.lossG.toFixed(4)}`;
    summary['final D(x) / D(G(z))'] = `${last.D_x.toFixed(3)} / ${last.D_G_z2.toFixed(3)}`;
    const recent = metrics.slice(-20);
    summary['images/s (last 20 steps)'] = (recent.reduce((a, m) => a + m.imagesPerSec, 0) / recent.length).toFixed(1);
  }
  summary['checkpoint'] = result.checkpointStep === null ? 'none' : `${RUN_FILES.checkpoint} (step ${result.checkpointStep})`;
  const notes: string[] = [];
  if (result.status === 'interrupted') notes.push(`Stopped by request at step ${result.step}; continue with: dcgan train --resume <this folder>`);
  if (result.status === 'diverged' && result.message) notes.push(result.message);
  const hasFinal = existsSync(join(outDir, RUN_FILES.finalSamples));
  writeReport(join(outDir, RUN_FILES.report), {
    title: `DCGAN run — ${config.data} ${config.imageSize}×${config.imageSize}×${config.channels}`,
    config: { ...config, ...environment },
    summary,
    lossPlotSvg: svg,
    lossPlotPng: png,
    qualityPlotSvg: qualitySvg,
    grids: sampleGrids(outDir),
    finalSamples: hasFinal ? RUN_FILES.finalSamples : null,
    realSamples: existsSync(join(outDir, RUN_FILES.realSamples)) ? RUN_FILES.realSamples : null,
    notes,
  });
}
