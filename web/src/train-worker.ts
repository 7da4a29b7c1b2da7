/**
 * Training in the page: a small DCGAN on the built-in shapes in a module Web Worker (the
 * engine's wasm backend, its thread pool where the page is cross-origin isolated). The step is
 * the CLI trainer's (src/train/trainer.ts): D on a real batch (target 1 − label smoothing) and
 * on a detached fake batch, then G with the non-saturating loss through the updated D, Adam on
 * both. Runs in slices so pause, resume and checkpoint requests get through between steps.
 */
import { Generator, functional as F, keep, models, noGrad, optim, randn, tensor, tidy, type Tensor } from '../../src/core.js';
import { DataLoader } from '../../src/data/loader.js';
import { ShapesDataset } from '../../src/data/shapes.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { encodeCheckpoint } from './checkpoint-writer.js';
import { startEngine, toRgba, type EngineInfo } from './engine.js';

export interface StepRecord {
  step: number;
  lossD: number;
  lossG: number;
  D_x: number;
  D_G_z1: number;
  D_G_z2: number;
  imagesPerSec: number;
}

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

function meanSigmoid(logits: Float32Array): number {
  let s = 0;
  for (const v of logits) s += 1 / (1 + Math.exp(-v));
  return s / logits.length;
}

interface Run {
  config: TrainConfig;
  loader: DataLoader;
  rng: Generator;
  netG: models.DcganGenerator;
  netD: models.DcganDiscriminator;
  optG: optim.Adam;
  optD: optim.Adam;
  fixedNoise: Tensor;
  step: number;
  epoch: number;
  seconds: number;
}

let run: Run | null = null;
let paused = false;
let looping = false;

function create(settings: Partial<TrainConfig>): Run {
  const config = resolveTrainConfig({ data: 'shapes', sampleCount: 64, ...settings });
  const dataset = new ShapesDataset({ imageSize: config.imageSize, channels: config.channels, seed: config.seed });
  const loader = new DataLoader(dataset, { batchSize: config.batchSize, shuffle: true, seed: config.seed, dropLast: true });
  // The order of draws is the CLI trainer's: G's weights, D's weights, then the fixed noise.
  const rng = new Generator(config.seed);
  const model = models.resolveDcganConfig({ imageSize: config.imageSize, channels: config.channels, nz: config.nz, ngf: config.ngf, ndf: config.ndf, projection: config.projection });
  const netG = new models.DcganGenerator(model, { generator: rng });
  const netD = new models.DcganDiscriminator(model, { generator: rng });
  const betas = [config.beta1, config.beta2] as const;
  const optG = new optim.Adam(netG.parameters(), { lr: config.lr, betas });
  const optD = new optim.Adam(netD.parameters(), { lr: config.lr, betas });
  const fixedNoise = keep(randn([config.sampleCount, config.nz, 1, 1], { generator: rng }));
  return { config, loader, rng, netG, netD, optG, optD, fixedNoise, step: 0, epoch: 0, seconds: 0 };
}

function trainStep(r: Run): StepRecord {
  const started = performance.now();
  const { netG, netD, optG, optD, rng, config } = r;
  const result = tidy(() => {
    const { images: real, epoch } = r.loader.next();
    const batch = real.shape[0]!;
    optD.zeroGrad();
    const outReal = netD.forward(real);
    const errDReal = F.binaryCrossEntropyWithLogits(outReal, 1 - config.labelSmoothing);
    errDReal.backward();
    const noise = randn([batch, config.nz, 1, 1], { generator: rng });
    const fake = netG.forward(noise);
    const outFake = netD.forward(fake.detach());
    const errDFake = F.binaryCrossEntropyWithLogits(outFake, 0);
    errDFake.backward();
    const lossD = errDReal.item() + errDFake.item();
    if (!Number.isFinite(lossD)) throw new Error(`training diverged at step ${r.step + 1}: lossD is ${lossD}`);
    optD.step();
    optG.zeroGrad();
    const outG = netD.forward(fake);
    const errG = F.binaryCrossEntropyWithLogits(outG, 1);
    errG.backward();
    const lossG = errG.item();
    if (!Number.isFinite(lossG)) throw new Error(`training diverged at step ${r.step + 1}: lossG is ${lossG}`);
    optG.step();
    optD.zeroGrad();
    optG.zeroGrad();
    return { epoch, batch, lossD, lossG, D_x: meanSigmoid(outReal.data), D_G_z1: meanSigmoid(outFake.data), D_G_z2: meanSigmoid(outG.data) };
  });
  const seconds = (performance.now() - started) / 1000;
  r.seconds += seconds;
  r.step++;
  r.epoch = result.epoch;
  return { step: r.step, lossD: result.lossD, lossG: result.lossG, D_x: result.D_x, D_G_z1: result.D_G_z1, D_G_z2: result.D_G_z2, imagesPerSec: result.batch / Math.max(seconds, 1e-9) };
}

/** The first GRID images of the fixed noise, G in eval mode (as the CLI's grids). */
function grid(r: Run): Uint8ClampedArray<ArrayBuffer> {
  const { netG, config } = r;
  netG.eval();
  try {
    return tidy(() => {
      const noise = r.fixedNoise.data.slice(0, GRID * config.nz);
      const images = noGrad(() => netG.forward(tensor(noise, [GRID, config.nz, 1, 1])));
      return toRgba(images.data, GRID, config.channels, config.imageSize);
    });
  } finally {
    netG.train();
  }
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
      scope.postMessage({ type: 'progress', records, grid: image, paused, elapsed: r.seconds }, [image.buffer]);
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
        run = create(request.settings);
        const real = new Float32Array(GRID * run.config.channels * run.config.imageSize ** 2);
        const per = run.config.channels * run.config.imageSize ** 2;
        for (let i = 0; i < GRID; i++) run.loader.dataset.read(i, real, i * per);
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
        const r = run;
        const bytes = encodeCheckpoint({
          config: { ...r.config },
          netG: r.netG,
          netD: r.netD,
          optG: r.optG,
          optD: r.optD,
          step: r.step,
          epoch: r.epoch,
          elapsedSeconds: r.seconds,
          loader: r.loader.state(),
          rng: r.rng.getState(),
          fixedNoise: r.fixedNoise,
        });
        scope.postMessage({ type: 'checkpoint', bytes: bytes.buffer as ArrayBuffer, step: r.step }, [bytes.buffer as ArrayBuffer]);
      }
    } catch (error) {
      scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  })();
};
