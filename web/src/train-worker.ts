/**
 * Training in the page: a small DCGAN on the built-in shapes in a module Web Worker (the
 * engine's wasm backend, its thread pool where the page is cross-origin isolated). It is the
 * CLI's own trainer (src/train/trainer.ts, its GAN step src/train/step.ts) on the shapes data,
 * and the checkpoint it downloads is written by the CLI's checkpoint code
 * (src/train/checkpoint-format.ts). Runs in slices so pause, resume and checkpoint requests
 * get through between steps.
 */
import { tensor, tidy } from '../../src/core.js';
import { ShapesDataset } from '../../src/data/shapes.js';
import { encodeCheckpoint } from '../../src/train/checkpoint-format.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { GanTrainer, type StepMetrics } from '../../src/train/trainer.js';
import { startEngine, toRgba, type EngineInfo } from './engine.js';

/** What the page shows of a step: the trainer's own metrics less the epoch and time. */
export type StepRecord = Omit<StepMetrics, 'epoch' | 'time'>;

export type TrainRequest =
  | { type: 'start'; settings: Partial<TrainConfig>; threads: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'checkpoint' };

export type TrainReply =
  | { type: 'ready'; engine: EngineInfo; config: TrainConfig; real: Uint8ClampedArray<ArrayBuffer> }
  | { type: 'progress'; records: StepRecord[]; grid: Uint8ClampedArray<ArrayBuffer> | null; paused: boolean; elapsed: number }
  | { type: 'checkpoint'; bytes: ArrayBuffer; step: number }
  | { type: 'error'; message: string };

const scope = globalThis as unknown as { postMessage(message: TrainReply, transfer?: Transferable[]): void; onmessage: ((event: MessageEvent<TrainRequest>) => void) | null };
const GRID = 16;

let run: GanTrainer | null = null;
let paused = false;
let looping = false;

async function create(settings: Partial<TrainConfig>): Promise<GanTrainer> {
  const config = resolveTrainConfig({ data: 'shapes', sampleCount: 64, ...settings });
  const dataset = new ShapesDataset({ imageSize: config.imageSize, channels: config.channels, seed: config.seed });
  return GanTrainer.create(config, { dataset });
}

function trainStep(trainer: GanTrainer): StepRecord {
  const m = trainer.trainStep();
  return { step: m.step, lossD: m.lossD, lossG: m.lossG, D_x: m.D_x, D_G_z1: m.D_G_z1, D_G_z2: m.D_G_z2, imagesPerSec: m.imagesPerSec };
}

/** The first GRID images of the fixed noise, as the CLI's grids draw them. */
function grid(trainer: GanTrainer): Uint8ClampedArray<ArrayBuffer> {
  const { nz, channels, imageSize } = trainer.config;
  return tidy(() => {
    const images = trainer.sample(tensor(trainer.fixedNoise.data.slice(0, GRID * nz), [GRID, nz, 1, 1]));
    return toRgba(images.data, GRID, channels, imageSize);
  });
}

/** The checkpoint's bytes in one buffer, to hand to the page. */
function checkpointBytes(trainer: GanTrainer): Uint8Array<ArrayBuffer> {
  const chunks = encodeCheckpoint(trainer.checkpointState());
  const bytes = new Uint8Array(chunks.byteLength);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function loop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    while (run !== null && !paused) {
      const r = run;
      const records: StepRecord[] = [];
      const sliceStart = performance.now();
      // About a quarter second of steps, then let messages in.
      do records.push(trainStep(r));
      while (performance.now() - sliceStart < 250);
      const image = grid(r);
      scope.postMessage({ type: 'progress', records, grid: image, paused, elapsed: r.elapsedSeconds }, [image.buffer]);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } catch (error) {
    paused = true;
    scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  } finally {
    looping = false;
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  void (async () => {
    try {
      if (request.type === 'start') {
        const engine = await startEngine(request.threads);
        run = await create(request.settings);
        const real = tidy(() => run!.realSamples(GRID).toFloat32Array());
        scope.postMessage({ type: 'ready', engine, config: run.config, real: toRgba(real, GRID, run.config.channels, run.config.imageSize) });
        paused = false;
        void loop();
      } else if (request.type === 'pause') {
        paused = true;
      } else if (request.type === 'resume') {
        paused = false;
        void loop();
      } else if (run !== null) {
        // Messages arrive between slices of steps, so the state is never mid-step here.
        const bytes = checkpointBytes(run);
        scope.postMessage({ type: 'checkpoint', bytes: bytes.buffer, step: run.step }, [bytes.buffer]);
      }
    } catch (error) {
      scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  })();
};
