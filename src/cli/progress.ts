/**
 * How `dcgan train` reports progress: a live bar on a terminal (cli-progress, on stderr),
 * one JSON object per line with --json, or plain periodic lines when the output is a file or pipe.
 */
import cliProgress from 'cli-progress';
import type { RunResult, StepMetrics, TrainEvent } from '../train/index.js';
import { guardStdio, write } from './output.js';

export type ProgressMode = 'bar' | 'json' | 'plain';

export interface Reporter {
  onEvent(event: TrainEvent): void;
  /** A human message (warnings, notices); kept off stdout in JSON mode. */
  note(message: string): void;
  /** Stops the bar (call before printing anything else, e.g. on errors). */
  stop(): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}m${String(total - 60 * m).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m - 60 * h).padStart(2, '0')}m`;
}

/** Averages images/s over a sliding window of recent steps, for a stable rate and ETA. */
class RateMeter {
  private readonly times: number[] = [];
  private readonly images: number[] = [];
  add(m: StepMetrics): void {
    this.images.push(m.imagesPerSec);
    this.times.push(m.time);
    if (this.images.length > 50) {
      this.images.shift();
      this.times.shift();
    }
  }
  get imagesPerSec(): number {
    if (this.images.length === 0) return 0;
    // Harmonic mean: total images over total time when every step has the same batch.
    return this.images.length / this.images.reduce((a, r) => a + 1 / r, 0);
  }
}

export function stepLine(m: StepMetrics, total: number, imagesPerSec: number, batchSize: number): string {
  const eta = imagesPerSec > 0 ? ((total - m.step) * batchSize) / imagesPerSec : NaN;
  return [
    `step ${m.step}/${total}`,
    `epoch ${m.epoch}`,
    `lossD ${m.lossD.toFixed(4)}`,
    `lossG ${m.lossG.toFixed(4)}`,
    `D(x) ${m.D_x.toFixed(3)}`,
    `D(G(z)) ${m.D_G_z1.toFixed(3)}/${m.D_G_z2.toFixed(3)}`,
    `${imagesPerSec.toFixed(1)} img/s`,
    `ETA ${formatDuration(eta)}`,
  ].join('  ');
}

/** `engine` (what computes, and why a faster backend is not used) goes into --json's start event. */
export function createReporter(mode: ProgressMode, logEvery: number, engine: Record<string, unknown> = {}): Reporter {
  const rate = new RateMeter();
  let bar: cliProgress.SingleBar | null = null;
  let firstStep = -1;
  let batchSize = 1;
  // A closed stdout or stderr (EPIPE, /dev/full, a lost terminal) must never stop the run.
  guardStdio();
  const out = (line: string): void => {
    write('stdout', line + '\n');
  };
  const shouldLog = (m: StepMetrics, total: number): boolean => m.step === firstStep || m.step % logEvery === 0 || m.step === total;

  const stop = (): void => {
    bar?.stop();
    bar = null;
  };

  return {
    note(message: string): void {
      if (bar !== null) {
        // Print above the bar without breaking it.
        write('stderr', '\r\x1b[K' + message + '\n');
        return;
      }
      if (mode === 'json') write('stderr', message + '\n');
      else out(message);
    },
    stop,
    onEvent(event: TrainEvent): void {
      switch (event.type) {
        case 'start': {
          firstStep = event.step + 1;
          batchSize = event.config.batchSize;
          if (mode === 'json') {
            out(JSON.stringify({ event: 'start', outDir: event.outDir, step: event.step, totalSteps: event.totalSteps, batchesPerEpoch: event.batchesPerEpoch, dataset: event.datasetName, datasetLength: event.datasetLength, resumed: event.resumed, config: event.config, engine }));
          } else if (mode === 'bar') {
            bar = new cliProgress.SingleBar(
              {
                format: 'step {value}/{total} {bar} epoch {epoch} | lossD {lossD} lossG {lossG} | D(x) {dx} D(G(z)) {dgz} | {ips} img/s | ETA {etaText}',
                barsize: 24,
                hideCursor: true,
                clearOnComplete: false,
                fps: 5,
                etaBuffer: 50,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(event.totalSteps, event.step, { epoch: '-', lossD: '-', lossG: '-', dx: '-', dgz: '-', ips: '-', etaText: '…' });
          }
          return;
        }
        case 'step': {
          const m = event.metrics;
          rate.add(m);
          const ips = rate.imagesPerSec;
          if (mode === 'bar') {
            const eta = ips > 0 ? ((event.totalSteps - m.step) * batchSize) / ips : NaN;
            bar?.update(m.step, {
              epoch: m.epoch,
              lossD: m.lossD.toFixed(3),
              lossG: m.lossG.toFixed(3),
              dx: m.D_x.toFixed(2),
              dgz: m.D_G_z2.toFixed(2),
              ips: ips.toFixed(1),
              etaText: formatDuration(eta),
            });
          } else if (shouldLog(m, event.totalSteps)) {
            if (mode === 'json') out(JSON.stringify({ event: 'step', ...m, totalSteps: event.totalSteps, imagesPerSecAvg: ips }));
            else out(stepLine(m, event.totalSteps, ips, batchSize));
          }
          return;
        }
        case 'end':
          stop();
          if (mode === 'json') out(JSON.stringify({ event: 'end', ...summary(event.result) }));
          return;
        default:
          return;
      }
    },
  };
}

function summary(result: RunResult): Record<string, unknown> {
  return { status: result.status, step: result.step, epoch: result.epoch, outDir: result.outDir, checkpointStep: result.checkpointStep, elapsedSeconds: result.elapsedSeconds, message: result.message ?? null };
}

/** Shows the progress of a data preparation (an image folder's cache) that takes more than a second. */
export interface PreparationProgress {
  /** Pass as openDataset's onProgress. */
  onProgress(done: number, total: number): void;
  /** Ends the bar, if one is shown, and ignores later reports; returns the seconds since the first report (0 when none came). */
  stop(): number;
}

/**
 * A bar on a terminal (cli-progress, stderr), one JSON line a second on stdout with --json
 * ({"event":"prepare","done","total","elapsedSeconds"}), or a plain line every 5 s; nothing for
 * a preparation that ends within a second of its first report (the first finished chunk, so
 * worker start-up does not count).
 */
export function createPreparationProgress(mode: ProgressMode, label = 'preparing the image cache', now: () => number = () => performance.now()): PreparationProgress {
  let start = -1;
  let last = -Infinity;
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;
  guardStdio();
  return {
    onProgress(done: number, total: number): void {
      // After stop(): a lazily opened folder's cache keeps filling while training runs; its
      // progress is not shown over the training's.
      if (stopped) return;
      const t = now();
      if (start < 0) start = t;
      const elapsed = (t - start) / 1000;
      if (elapsed < 1 && done < total) return;
      if (elapsed < 1 && bar === null && last === -Infinity) return; // finished within a second
      const rate = elapsed > 0 ? done / elapsed : 0;
      const eta = rate > 0 ? (total - done) / rate : NaN;
      if (mode === 'bar') {
        if (bar === null) {
          bar = new cliProgress.SingleBar(
            { format: `${label} {bar} {value}/{total} images | {rate} img/s | ETA {etaText}`, barsize: 24, hideCursor: true, clearOnComplete: false, fps: 5 },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, done, { rate: rate.toFixed(0), etaText: formatDuration(eta) });
        } else {
          bar.update(done, { rate: rate.toFixed(0), etaText: formatDuration(eta) });
        }
        if (done >= total) {
          bar.stop();
          bar = null;
        }
        last = t;
        return;
      }
      const interval = mode === 'json' ? 1000 : 5000;
      if (t - last < interval && done < total) return;
      last = t;
      if (mode === 'json') write('stdout', JSON.stringify({ event: 'prepare', done, total, elapsedSeconds: Number(elapsed.toFixed(3)) }) + '\n');
      else write('stdout', `${label}: ${done}/${total} images (${rate.toFixed(0)} img/s, ETA ${formatDuration(eta)})\n`);
    },
    stop(): number {
      stopped = true;
      bar?.stop();
      bar = null;
      return start < 0 ? 0 : (now() - start) / 1000;
    },
  };
}
