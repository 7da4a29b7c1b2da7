/**
 * Train in the page: a small DCGAN on the built-in shapes, in a Web Worker, with its fixed-noise
 * grid improving live, the losses, pause/resume, and a checkpoint download that `dcgan sample`
 * (and `dcgan train --resume`) read.
 */
import { drawChart, runningMedian } from './chart.js';
import { canvas, downloadBlob, drawImage, h, labelled } from './dom.js';
import { describeEngine, type EngineInfo } from './engine.js';
import type { StepRecord, TrainReply, TrainRequest } from './train-worker.js';

/** What the tests read (window.__dcgan.train). */
export interface TrainState {
  running: boolean;
  paused: boolean;
  step: number;
  lossD: number[];
  engine: EngineInfo | null;
  error: string | null;
  checkpoints: number;
}

export interface TrainerApi {
  state: TrainState;
}

const GRID = 16;

export function createTrainer(root: HTMLElement): TrainerApi {
  const state: TrainState = { running: false, paused: false, step: 0, lossD: [], engine: null, error: null, checkpoints: 0 };
  const records: StepRecord[] = [];
  let worker: Worker | null = null;
  let imageSize = 16;
  let lastLine = 'step 0';

  const number = (id: string, value: number, min: number, max: number, step = 1): HTMLInputElement => h('input', { type: 'number', id, value, min, max, step });
  const inputs = {
    ngf: number('tr-ngf', 32, 4, 64),
    ndf: number('tr-ndf', 16, 4, 64),
    batch: number('tr-batch', 32, 2, 128),
    lr: number('tr-lr', 0.0002, 0.00001, 0.01, 0.00001),
    seed: number('tr-seed', 0, 0, 1e6),
  };
  const channels = h('select', { id: 'tr-channels' }, h('option', { value: 3, text: 'RGB', selected: true }), h('option', { value: 1, text: 'grey' }));
  const startButton = h('button', { type: 'button', id: 'tr-start', text: 'Start training' });
  const pauseButton = h('button', { type: 'button', id: 'tr-pause', text: 'Pause', disabled: true });
  const downloadButton = h('button', { type: 'button', id: 'tr-download', text: 'Download checkpoint', disabled: true });
  const status = h('p', { class: 'status', 'aria-live': 'polite', text: 'Not started. A 16×16 DCGAN learns circles, squares and triangles drawn by the engine’s own shapes data set.' });
  const engineLine = h('p', { class: 'engine' });
  const fake = canvas(4 * imageSize, 4 * imageSize, 'generated from the fixed noise', 'pixels train-grid');
  const real = canvas(4 * imageSize, 4 * imageSize, 'real training images', 'pixels train-grid');
  const lossSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  lossSvg.id = 'tr-loss';

  root.append(
    h('h2', { text: 'Train in the page' }),
    h('p', { class: 'lead' },
      'The same training step as ', h('code', { text: 'dcgan train' }), ' (Adam, BCE on logits, one-sided label smoothing 0.1), in a Web Worker of this page on the engine’s WebAssembly backend. The download is a full checkpoint: ',
      h('code', { text: 'dcgan sample --checkpoint <file>' }), ' reads it, and the Explorer loads it too.'),
    h('div', { class: 'controls' }, labelled('ngf', inputs.ngf), labelled('ndf', inputs.ndf), labelled('Batch', inputs.batch), labelled('Learning rate', inputs.lr), labelled('Seed', inputs.seed), labelled('Colour', channels)),
    h('div', { class: 'controls' }, startButton, pauseButton, downloadButton),
    status,
    engineLine,
    h('div', { class: 'columns' },
      h('div', { class: 'panel' }, h('h3', { text: 'Generated (fixed noise)' }), fake),
      h('div', { class: 'panel' }, h('h3', { text: 'Real' }), real),
      h('div', { class: 'panel chart' }, lossSvg),
    ),
  );
  drawChart(lossSvg, [], { title: 'Losses', xLabel: 'step' });

  const drawGrid = (target: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>): void => {
    target.width = 4 * imageSize;
    target.height = 4 * imageSize;
    for (let i = 0; i < GRID; i++) drawImage(target, rgba, i, imageSize, (i % 4) * imageSize, Math.floor(i / 4) * imageSize);
  };
  const send = (request: TrainRequest): void => worker?.postMessage(request);

  const onReply = (reply: TrainReply): void => {
    if (reply.type === 'ready') {
      state.engine = reply.engine;
      imageSize = reply.config.imageSize;
      engineLine.textContent = `Engine in the worker: ${describeEngine(reply.engine)}`;
      drawGrid(real, reply.real);
    } else if (reply.type === 'progress') {
      records.push(...reply.records);
      const last = reply.records.at(-1)!;
      state.step = last.step;
      state.lossD = records.map((r) => r.lossD);
      if (reply.grid !== null) drawGrid(fake, reply.grid);
      const speed = reply.records.reduce((a, r) => a + r.imagesPerSec, 0) / reply.records.length;
      lastLine = `step ${last.step} — loss D ${last.lossD.toFixed(3)}, loss G ${last.lossG.toFixed(3)}, D(x) ${last.D_x.toFixed(2)}, D(G(z)) ${last.D_G_z1.toFixed(2)}, ${speed.toFixed(0)} images/s, ${reply.elapsed.toFixed(0)} s of training`;
      status.textContent = `${state.paused ? 'Paused at' : 'Training:'} ${lastLine}`;
      const lossD = records.map((r): [number, number] => [r.step, r.lossD]);
      const lossG = records.map((r): [number, number] => [r.step, r.lossG]);
      drawChart(lossSvg, [
        { name: 'loss D', color: '#d1495b', points: lossD, faint: true, hidden: true },
        { name: 'loss G', color: '#2e86ab', points: lossG, faint: true, hidden: true },
        { name: 'loss D', color: '#d1495b', points: runningMedian(lossD) },
        { name: 'loss G', color: '#2e86ab', points: runningMedian(lossG) },
      ], { title: 'Losses (running median of 25 steps)', xLabel: 'step' });
    } else if (reply.type === 'checkpoint') {
      downloadBlob(new Blob([reply.bytes], { type: 'application/octet-stream' }), `dcgan-page-step${reply.step}.safetensors`);
      state.checkpoints++;
    } else {
      state.error = reply.message;
      status.textContent = `Stopped: ${reply.message}`;
      status.classList.add('error');
    }
  };

  startButton.addEventListener('click', () => {
    worker?.terminate();
    records.length = 0;
    state.step = 0;
    state.lossD = [];
    state.error = null;
    status.classList.remove('error');
    worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module', name: 'dcgan training' });
    worker.onmessage = (event: MessageEvent<TrainReply>) => onReply(event.data);
    worker.onerror = (event) => onReply({ type: 'error', message: event.message });
    const value = (input: HTMLInputElement): number => Number(input.value);
    send({
      type: 'start',
      threads: Math.max(2, Math.min(navigator.hardwareConcurrency || 2, 8)),
      settings: {
        imageSize: 16,
        channels: Number(channels.value) === 1 ? 1 : 3,
        ngf: value(inputs.ngf),
        ndf: value(inputs.ndf),
        batchSize: value(inputs.batch),
        lr: value(inputs.lr),
        seed: value(inputs.seed),
        steps: 100000,
      },
    });
    state.running = true;
    state.paused = false;
    startButton.textContent = 'Restart';
    pauseButton.disabled = false;
    pauseButton.textContent = 'Pause';
    downloadButton.disabled = false;
    status.textContent = 'Starting…';
  });
  pauseButton.addEventListener('click', () => {
    state.paused = !state.paused;
    send({ type: state.paused ? 'pause' : 'resume' });
    pauseButton.textContent = state.paused ? 'Resume' : 'Pause';
    status.textContent = state.paused ? `Paused at ${lastLine}` : `Training: ${lastLine}`;
  });
  downloadButton.addEventListener('click', () => send({ type: 'checkpoint' }));
  return { state };
}
