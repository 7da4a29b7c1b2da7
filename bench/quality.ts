/**
 * The quality benchmark: pytorch/examples' DCGAN on Fashion-MNIST 32×32×1, trained by us (one run
 * with a generator average gives "ours EMA" and, with --raw-weights, "ours raw") and by
 * PyTorch (bench/peers/pytorch_dcgan_train.py), every generator scored by the same
 * `dcgan eval` (same real images, same noise seed, same local classifier), several seeds.
 * The classifier is trained on first use and cached per machine; its training rounds
 * differently on another CPU or backend, so each result names its id (`feature_extractors`),
 * and results compare only under the same id: run both sides on one machine.
 *
 *   npm run bench:quality                                  # 3 seeds, 3 epochs, n 10 000 (hours)
 *   npm run bench:quality -- --quick                       # seed 1, 20 steps, n 500: a smoke test
 *   npm run bench:quality -- --seeds 1,2 --threads 2 --ema 0.999 --n 10000 --only ours|peer --work DIR
 *   npm run bench:quality -- --lr 0.0004 [--lr-d 0.0002] [--peer-lr 0.0004] [--no-equal-time]  # other learning rates
 *
 * The model and hyperparameters are pytorch/examples' (dcgan/main.py): ngf = ndf = 64, nz 100,
 * a transposed-convolution projection of z, BatchNorm, no biases, weights N(0, 0.02) (BatchNorm
 * γ N(1, 0.02)), Adam lr 2e-4 β1 0.5 β2 0.999 on both networks, BCE with real label 1 (so
 * `--label-smoothing 0`: our default smooths it to 0.9), batch 64, 3 epochs. `--lr` / `--lr-d` train
 * ours with other learning rates (G's and D's), `--peer-lr` the peer (both networks; default
 * pytorch/examples' 2e-4): the same model and data at the same cost per step, so our best
 * configuration can be set against PyTorch's example as it is and against PyTorch given the
 * same learning rate. Such runs get names and result files of their own.
 * `--no-equal-time` skips the equal-wall-time models (each can cost a training run).
 *
 * The same training images on both sides: this script writes the 60 000 Fashion-MNIST training
 * images as our loader yields them (IDX bytes, our bilinear resize 28 → 32, v / 127.5 − 1) to
 * <work>/fashion-mnist-32x1.f32, raw float32 [N, 1, 32, 32] (floats, not bytes: the resize gives
 * values between the byte levels), and the peer trains on that file. Each side shuffles with
 * its own generator seeded by the seed. One difference is pytorch/examples': its DataLoader
 * keeps the last partial batch (938 steps per epoch, the last of 32 images) where ours drops
 * it (937 steps); --steps K makes both sides take exactly K steps instead.
 *
 * Wall time: each side's training clock — the sum of its step times, from taking a batch to
 * after G's optimizer step — so process start, loading the data and writing the final files
 * are left out on both sides (they are reported as process_seconds). Our clock does not
 * include the generator average's update after each step (a few ms against a step of ~250 ms);
 * the raw weights come from the same run and have the same clock.
 *
 * Equal wall time, per seed: T = the faster side's training clock; the slower side is scored
 * as it was after T seconds of its own training (the first step at which its clock reached T).
 * The peer is trained after ours with --save-at-seconds T_ours, so when PyTorch is the slower
 * side its snapshot is saved during the run (a snapshot taken against an earlier run of ours
 * whose clock was within 2% is reused). Otherwise (ours slower, or the peer ran before ours)
 * the slower side is trained again to that step count, same seed, in a folder of its own:
 * our training is deterministic (bitwise, run to run), so that is the same trajectory's state at
 * that step; PyTorch promises no bitwise reproducibility on CPU, though two 20-step runs here
 * gave the same losses to the last digit.
 *
 * Resumable: each training run, evaluation and grid lands in <work> (default
 * runs/bench-quality, or runs/bench-quality-quick with --quick) under a name holding its
 * settings, and is reused when its result file is there; a run that did not finish is
 * started again from scratch. Delete the folder to start over.
 *
 * Output: one JSON line per training run and per evaluation on stdout, then the summary object
 * (median and min–max over the seeds); the same object is written to
 * bench/results/<date>-quality.json (with --quick: into the work folder), the grids side by
 * side (rows: seeds; columns: real images, each configuration; the same noise for every model)
 * to <date>-quality-grids.png next to it, and a Markdown table to stderr.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { openDataset } from '../src/data/index.js';
import { svgToPng } from '../src/io/plot.js';
import { gitCommit, median, parseFlags, peerAvailable, PEER_ENV, ROOT } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const quick = flags['quick'] === 'true';
const seeds = (flags['seeds'] ?? (quick ? '1' : '1,2,3')).split(',').map(Number);
const epochs = Number(flags['epochs'] ?? 3);
const steps = flags['steps'] !== undefined ? Number(flags['steps']) : quick ? 20 : null;
const threads = Number(flags['threads'] ?? 2);
const ema = Number(flags['ema'] ?? 0.999);
const PAPER_LR = 0.0002;
const lr = Number(flags['lr'] ?? PAPER_LR);
const lrD = Number(flags['lr-d'] ?? 0);
const peerLr = Number(flags['peer-lr'] ?? PAPER_LR);
const equalWallTime = flags['no-equal-time'] !== 'true';
const n = Number(flags['n'] ?? (quick ? 500 : 10000));
const evalSeed = Number(flags['eval-seed'] ?? 0);
const gridSeed = Number(flags['grid-seed'] ?? 0);
const only = flags['only'];
const dataRoot = flags['data-root'];
const work = resolve(flags['work'] ?? join(ROOT, 'runs', quick ? 'bench-quality-quick' : 'bench-quality'));
const PYTHON = '/usr/bin/python3';
const CLI = ['--import', 'tsx', join(ROOT, 'test', 'dcgan-from-source.ts')];

if (only !== undefined && only !== 'ours' && only !== 'peer') throw new Error(`--only must be ours or peer, got ${only}`);
for (const [name, v] of Object.entries({ epochs, threads, n, evalSeed, gridSeed, ...(steps === null ? {} : { steps }) })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
}
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds must be non-negative integers, got ${flags['seeds']}`);
if (!(ema > 0 && ema < 1)) throw new Error(`--ema must be in (0, 1), got ${ema}`);
if (!(lr > 0) || !(lrD >= 0) || !(peerLr > 0)) throw new Error(`--lr and --peer-lr must be > 0 and --lr-d ≥ 0, got ${lr}, ${peerLr} and ${lrD}`);
const runOurs = only !== 'peer';
const runPeer = only !== 'ours';
if (runPeer && !peerAvailable(flags)) throw new Error('the PyTorch peer is not available (apt-get install python3-torch libopenblas0-openmp), or pass --only ours');

/** The training length in run names and arguments. */
const lengthTag = steps !== null ? `k${steps}` : `e${epochs}`;
/** Learning rates other than the paper's, in run names and result files ('' for pytorch/examples' own). */
const lrTag = lr === PAPER_LR && lrD === 0 ? '' : `-lr${lr}${lrD === 0 ? '' : `-lrd${lrD}`}`;
const peerLrTag = peerLr === PAPER_LR ? '' : `-lr${peerLr}`;
const oursTag = `${lengthTag}${lrTag}-ema${ema}-t${threads}`;
const peerTag = `${lengthTag}${peerLrTag}-t${threads}`;
/** Result files of runs at other learning rates carry them in their names. */
const resultTag = lrTag === '' && peerLrTag === '' ? '' : `${lrTag === '' ? '' : `-ours${lrTag}`}${peerLrTag === '' ? '' : `-peer${peerLrTag}`}`;

mkdirSync(work, { recursive: true });
const log = (message: string): void => void process.stderr.write(`${message}\n`);
const emit = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
/** Writes through a temporary name, so a result file is either whole or absent. */
function writeJson(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

/** Runs a command to its end; each stdout line goes to `onLine`; stderr passes through. */
function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void = () => {}): Promise<{ seconds: number; lines: string[] }> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        onLine(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (rest !== '') lines.push(rest);
      if (code === 0) resolvePromise({ seconds: (performance.now() - started) / 1000, lines });
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal})`));
    });
  });
}

// --- The training images, once ------------------------------------------------------------

interface DataMeta {
  count: number;
  channels: number;
  size: number;
  dtype: 'float32';
  layout: 'NCHW';
  source: string | undefined;
}

const dataFile = join(work, 'fashion-mnist-32x1.f32');

async function dumpTrainingImages(): Promise<DataMeta> {
  const metaFile = `${dataFile}.json`;
  if (existsSync(metaFile) && existsSync(dataFile)) {
    const meta = readJson<DataMeta>(metaFile);
    if (statSync(dataFile).size === meta.count * meta.channels * meta.size * meta.size * 4) return meta;
  }
  const dataset = await openDataset('fashion-mnist', { imageSize: 32, channels: 1, root: dataRoot });
  const per = dataset.channels * dataset.imageSize * dataset.imageSize;
  const images = new Float32Array(dataset.length * per);
  for (let i = 0; i < dataset.length; i++) dataset.read(i, images, i * per);
  writeFileSync(`${dataFile}.tmp`, new Uint8Array(images.buffer));
  renameSync(`${dataFile}.tmp`, dataFile);
  const meta: DataMeta = { count: dataset.length, channels: dataset.channels, size: dataset.imageSize, dtype: 'float32', layout: 'NCHW', source: (dataset as { file?: string }).file };
  writeJson(metaFile, meta);
  log(`wrote ${relative(ROOT, dataFile)}: ${meta.count} images ${meta.channels}×${meta.size}×${meta.size} as our loader yields them`);
  return meta;
}

// --- Training -----------------------------------------------------------------------------

interface TrainRun {
  side: 'ours' | 'pytorch';
  seed: number;
  dir: string;
  steps: number;
  train_seconds: number;
  process_seconds: number;
  lossD: number;
  lossG: number;
  /** PyTorch: the snapshot saved when its clock reached `seconds`. */
  save_at?: { seconds: number; step: number; file: string } | null;
  version?: string;
  engine?: unknown;
}

/** The training clock after each step (index k − 1: after step k). */
function clockOf(run: TrainRun): number[] {
  if (run.side === 'pytorch') return readJson<number[]>(join(run.dir, 'times.json'));
  return readFileSync(join(run.dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { time: number }).time);
}

/** A finished run's record, or null (a folder without one is a run that did not finish: removed). */
function finished(dir: string): TrainRun | null {
  const file = join(dir, 'bench.json');
  if (existsSync(file)) return readJson<TrainRun>(file);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  return null;
}

async function trainOurs(seed: number, stopAt?: number): Promise<TrainRun> {
  const dir = join(work, `ours-${oursTag}-s${seed}${stopAt === undefined ? '' : `-at${stopAt}`}`);
  const done = finished(dir);
  if (done !== null) return done;
  const length = stopAt !== undefined ? ['--steps', String(stopAt)] : steps !== null ? ['--steps', String(steps)] : ['--epochs', String(epochs)];
  const args = [
    ...CLI, 'train', '--data', 'fashion-mnist', ...(dataRoot === undefined ? [] : ['--data-root', dataRoot]),
    '--image-size', '32', '--channels', '1', '--nz', '100', '--ngf', '64', '--ndf', '64', '--projection', 'conv',
    '--batch-size', '64', '--lr', String(lr), '--lr-d', String(lrD), '--beta1', '0.5', '--label-smoothing', '0', '--ema', String(ema),
    '--seed', String(seed), ...length, '--sample-every', '0', '--checkpoint-every', '0', '--eval-every', '0',
    '--threads', String(threads), '--json', '--log-every', '100', '--out', dir,
  ];
  log(`ours seed ${seed}: dcgan ${args.slice(CLI.length).join(' ')}`);
  let engine: unknown = null;
  const { seconds } = await runProcess(process.execPath, args, process.env, (line) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    if (event['event'] === 'start') engine = event['engine'];
    if (event['event'] === 'step' && (event['step'] as number) % 500 === 0) {
      log(`ours seed ${seed}: step ${String(event['step'])}/${String(event['totalSteps'])}, ${(event['time'] as number).toFixed(0)} s, lossD ${(event['lossD'] as number).toFixed(3)} lossG ${(event['lossG'] as number).toFixed(3)}`);
    }
  });
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  const last = JSON.parse(metrics.at(-1)!) as { step: number; time: number; lossD: number; lossG: number };
  const run: TrainRun = { side: 'ours', seed, dir, steps: last.step, train_seconds: last.time, process_seconds: seconds, lossD: last.lossD, lossG: last.lossG, engine };
  writeJson(join(dir, 'bench.json'), run);
  return run;
}

async function trainPeer(seed: number, options: { saveAtSeconds?: number; stopAt?: number } = {}): Promise<TrainRun> {
  const dir = join(work, `pytorch-${peerTag}-s${seed}${options.stopAt === undefined ? '' : `-at${options.stopAt}`}`);
  const done = finished(dir);
  if (done !== null) return done;
  const maxSteps = options.stopAt ?? steps;
  const args = [
    join(ROOT, 'bench', 'peers', 'pytorch_dcgan_train.py'), '--data-file', dataFile,
    ...(maxSteps !== null ? ['--max-steps', String(maxSteps)] : ['--epochs', String(epochs)]), '--seed', String(seed), '--threads', String(threads), '--lr', String(peerLr), '--out', dir, '--log-every', '500',
    ...(options.saveAtSeconds === undefined ? [] : ['--save-at-seconds', String(options.saveAtSeconds)]),
  ];
  log(`pytorch seed ${seed}: ${PYTHON} ${args.map((a) => relative(ROOT, a) || a).join(' ')}`);
  const { lines } = await runProcess(PYTHON, args, PEER_ENV);
  const r = JSON.parse(lines.filter((l) => l.trim() !== '').at(-1)!) as Record<string, unknown>;
  const run: TrainRun = {
    side: 'pytorch',
    seed,
    dir,
    steps: r['steps'] as number,
    train_seconds: r['train_seconds'] as number,
    process_seconds: r['process_seconds'] as number,
    lossD: r['lossD'] as number,
    lossG: r['lossG'] as number,
    save_at: r['save_at'] as TrainRun['save_at'],
    version: r['version'] as string,
  };
  writeJson(join(dir, 'bench.json'), run);
  return run;
}

// --- Models, evaluation, grids ------------------------------------------------------------

interface Model {
  /** The configuration it scores under: ours_ema, ours_raw, pytorch, or one of those "@<other>_time". */
  config: string;
  seed: number;
  /** What `dcgan eval / sample --checkpoint` reads. */
  checkpoint: string;
  raw: boolean;
  steps: number;
  train_seconds: number;
  process_seconds: number | null;
}

function modelsOf(run: TrainRun, suffix = ''): Model[] {
  const common = { seed: run.seed, steps: run.steps, train_seconds: run.train_seconds, process_seconds: suffix === '' ? run.process_seconds : null };
  if (run.side === 'pytorch') return [{ config: `pytorch${suffix}`, checkpoint: join(run.dir, 'netG.pth'), raw: false, ...common }];
  return [
    { config: `ours_ema${suffix}`, checkpoint: run.dir, raw: false, ...common },
    { config: `ours_raw${suffix}`, checkpoint: run.dir, raw: true, ...common },
  ];
}

/** The first step at which a clock reached T (1-based; the last step when it never did). */
function stepAt(clock: readonly number[], seconds: number): number {
  const i = clock.findIndex((t) => t >= seconds);
  return i < 0 ? clock.length : i + 1;
}

interface EqualTime {
  seed: number;
  seconds: number;
  faster: 'ours' | 'pytorch';
  slower_step: number;
  slower_full_steps: number;
  how: 'snapshot during the run' | 'trained again to that step';
  models: Model[];
}

async function equalTime(ours: TrainRun, peer: TrainRun): Promise<EqualTime> {
  const seconds = Math.min(ours.train_seconds, peer.train_seconds);
  if (peer.train_seconds > ours.train_seconds) {
    const clock = clockOf(peer);
    // A snapshot taken at another run of ours' clock within 2% of this one (the peer trained
    // against an earlier run of ours) stands in for training PyTorch again; the model's
    // train_seconds says when it was taken.
    const snapshot = peer.save_at && Math.abs(peer.save_at.seconds - seconds) <= 0.02 * seconds ? peer.save_at : null;
    const k = snapshot?.step ?? stepAt(clock, seconds);
    const model = { config: 'pytorch@ours_time', seed: peer.seed, raw: false, steps: k, train_seconds: clock[k - 1]!, process_seconds: null };
    const base = { seed: peer.seed, seconds, faster: 'ours' as const, slower_step: k, slower_full_steps: peer.steps };
    if (snapshot !== null) return { ...base, how: 'snapshot during the run', models: [{ ...model, checkpoint: join(peer.dir, snapshot.file) }] };
    const again = await trainPeer(peer.seed, { stopAt: k });
    return { ...base, how: 'trained again to that step', models: [{ ...model, checkpoint: join(again.dir, 'netG.pth') }] };
  }
  const clock = clockOf(ours);
  const k = stepAt(clock, seconds);
  const models = k >= ours.steps ? modelsOf(ours) : modelsOf(await trainOurs(ours.seed, k));
  return {
    seed: ours.seed,
    seconds,
    faster: 'pytorch',
    slower_step: k,
    slower_full_steps: ours.steps,
    how: 'trained again to that step',
    models: models.map((m) => ({ ...m, config: `${m.config}@pytorch_time`, steps: k, train_seconds: clock[k - 1]!, process_seconds: null })),
  };
}

interface EvalResult {
  fid_local: number;
  kid_local: { mean: number; std: number };
  precision_local: number;
  recall_local: number;
  classifier_score: number | null;
  classes_covered: number | null;
  class_histogram: Record<string, number> | null;
  class_histogram_real: Record<string, number> | null;
  feature_extractor: { id: string };
  seconds: number;
}

function modelId(model: Model): string {
  const name = relative(work, model.checkpoint).replace(/[/\\]/g, '_').replace(/\.pth$/, '');
  return `${name}${model.raw ? '-raw' : ''}`;
}

async function evaluate(model: Model): Promise<EvalResult> {
  mkdirSync(join(work, 'evals'), { recursive: true });
  const file = join(work, 'evals', `${modelId(model)}-n${n}-seed${evalSeed}.json`);
  if (existsSync(file)) return readJson<EvalResult>(file);
  const args = [
    ...CLI, 'eval', '--checkpoint', model.checkpoint, '--data', 'fashion-mnist', ...(dataRoot === undefined ? [] : ['--data-root', dataRoot]),
    '--n', String(n), '--seed', String(evalSeed), '--threads', String(threads), '--json', ...(model.raw ? ['--raw-weights'] : []),
  ];
  log(`eval ${model.config} seed ${model.seed}: dcgan ${args.slice(CLI.length).map((a) => relative(ROOT, a) || a).join(' ')}`);
  const { lines } = await runProcess(process.execPath, args, process.env);
  const result = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e['event'] === 'result');
  if (result === undefined) throw new Error(`dcgan eval of ${model.checkpoint} printed no result`);
  writeJson(file, result);
  return result as unknown as EvalResult;
}

async function sampleGrid(model: Model): Promise<string> {
  mkdirSync(join(work, 'grids'), { recursive: true });
  const out = join(work, 'grids', `${modelId(model)}-seed${gridSeed}.png`);
  if (existsSync(out)) return out;
  const args = [...CLI, 'sample', '--checkpoint', model.checkpoint, '--n', '64', '--seed', String(gridSeed), '--out', out, '--threads', String(threads), ...(model.raw ? ['--raw-weights'] : [])];
  await runProcess(process.execPath, args, process.env);
  return out;
}

/** PNG size from its IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** The grids side by side: a row per seed, a column per configuration (the real images first), labelled. */
async function writeGrids(rows: Array<{ seed: number; cells: Array<{ label: string; file: string | null }> }>, out: string): Promise<void> {
  const first = rows.flatMap((r) => r.cells).find((c) => c.file !== null);
  if (first === undefined) return;
  const { width, height } = pngSize(first.file!);
  const gap = 12;
  const top = 22;
  const left = 60;
  const columns = Math.max(...rows.map((r) => r.cells.length));
  const totalWidth = left + columns * (width + gap);
  const totalHeight = top + rows.length * (height + gap);
  const parts: string[] = [];
  rows[0]!.cells.forEach((cell, c) => parts.push(`<text x="${left + c * (width + gap) + width / 2}" y="15" font-size="12" text-anchor="middle">${cell.label}</text>`));
  rows.forEach((row, r) => {
    const y = top + r * (height + gap);
    parts.push(`<text x="4" y="${y + height / 2}" font-size="12">seed ${row.seed}</text>`);
    row.cells.forEach((cell, c) => {
      if (cell.file === null) return;
      const data = readFileSync(cell.file).toString('base64');
      parts.push(`<image x="${left + c * (width + gap)}" y="${y}" width="${width}" height="${height}" style="image-rendering:optimizeSpeed" href="data:image/png;base64,${data}"/>`);
    });
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${totalWidth}" height="${totalHeight}" font-family="DejaVu Sans">${parts.join('')}</svg>`;
  writeFileSync(out, await svgToPng(svg, 2));
}

// --- The benchmark ------------------------------------------------------------------------

interface Row {
  config: string;
  seed: number;
  steps: number;
  train_seconds: number;
  process_seconds: number | null;
  fid_local: number;
  kid_local: number;
  precision_local: number;
  recall_local: number;
  classifier_score: number | null;
  classes_covered: number | null;
  /** The rarest class's share of the samples (by the local classifier), against its share of the real images. */
  min_class_share: number | null;
  min_class_share_real: number | null;
  checkpoint: string;
  /** The classifier whose features scored it: numbers compare only under the same id. */
  feature_extractor: string;
}

function minShare(histogram: Record<string, number> | null): number | null {
  if (histogram === null) return null;
  const counts = Object.values(histogram);
  const total = counts.reduce((a, b) => a + b, 0);
  return total === 0 ? null : Math.min(...counts) / total;
}

const started = performance.now();
const meta = runPeer ? await dumpTrainingImages() : null;
const rows: Row[] = [];
const trainRuns: TrainRun[] = [];
const equal: EqualTime[] = [];
const gridRows: Array<{ seed: number; cells: Array<{ label: string; file: string | null }> }> = [];
const gridLabels: Record<string, string> = { ours_ema: 'ours EMA', ours_raw: 'ours raw', pytorch: 'PyTorch' };

for (const seed of seeds) {
  const ours = runOurs ? await trainOurs(seed) : null;
  const peer = runPeer ? await trainPeer(seed, { saveAtSeconds: ours?.train_seconds }) : null;
  for (const run of [ours, peer]) {
    if (run === null) continue;
    trainRuns.push(run);
    emit({ kind: 'train', ...run, dir: relative(ROOT, run.dir) });
  }
  const models = [...(ours ? modelsOf(ours) : []), ...(peer ? modelsOf(peer) : [])];
  if (ours && peer && equalWallTime) {
    const e = await equalTime(ours, peer);
    equal.push(e);
    emit({ kind: 'equal_wall_time', ...e, models: e.models.map((m) => m.config) });
    models.push(...e.models);
  }
  for (const model of models) {
    const r = await evaluate(model);
    const row: Row = {
      config: model.config,
      seed,
      steps: model.steps,
      train_seconds: model.train_seconds,
      process_seconds: model.process_seconds,
      fid_local: r.fid_local,
      kid_local: r.kid_local.mean,
      precision_local: r.precision_local,
      recall_local: r.recall_local,
      classifier_score: r.classifier_score,
      classes_covered: r.classes_covered,
      min_class_share: minShare(r.class_histogram),
      min_class_share_real: minShare(r.class_histogram_real),
      checkpoint: relative(ROOT, model.checkpoint),
      feature_extractor: r.feature_extractor.id,
    };
    rows.push(row);
    emit({ kind: 'eval', ...row, eval_seconds: r.seconds });
  }
  const cells: Array<{ label: string; file: string | null }> = [];
  if (ours) cells.push({ label: 'real', file: join(ours.dir, 'real_samples.png') });
  for (const model of models.filter((m) => !m.config.includes('@'))) cells.push({ label: gridLabels[model.config] ?? model.config, file: await sampleGrid(model) });
  gridRows.push({ seed, cells });
}

/** Median and range over the seeds of each configuration. */
const configs = [...new Set(rows.map((r) => r.config))];
const stat = (values: Array<number | null>): { median: number; min: number; max: number } | null => {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : { median: median(v), min: Math.min(...v), max: Math.max(...v) };
};
const keys = ['fid_local', 'kid_local', 'precision_local', 'recall_local', 'classifier_score', 'classes_covered', 'min_class_share', 'train_seconds', 'process_seconds', 'steps'] as const;
const summaryRows = configs.map((config) => {
  const mine = rows.filter((r) => r.config === config);
  return { config, seeds: mine.map((r) => r.seed), ...Object.fromEntries(keys.map((k) => [k, stat(mine.map((r) => r[k]))])) };
});

const date = new Date().toISOString().slice(0, 10);
const resultsDir = quick ? work : join(ROOT, 'bench', 'results');
const baseName = `${date}-quality${resultTag}${only === undefined ? '' : `-${only}`}`;
// A second run on the same day with the same settings gets -2, -3, …: committed results are never overwritten.
let resultName = baseName;
for (let i = 2; existsSync(join(resultsDir, `${resultName}.json`)); i++) resultName = `${baseName}-${i}`;
if (resultName !== baseName) log(`bench:quality: ${baseName}.json exists; writing ${resultName}.json`);
const resultFile = join(resultsDir, `${resultName}.json`);
const gridFile = join(resultsDir, `${resultName}-grids.png`);
await writeGrids(gridRows, gridFile);
const commit = gitCommit() ?? '';
const summary = {
  kind: 'summary',
  command: `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trim(),
  date,
  commit,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  settings: { data: 'fashion-mnist 32×32×1', seeds, epochs: steps === null ? epochs : null, steps, batch: 64, ngf: 64, ndf: 64, nz: 100, lr: { ours: lr, ours_d: lrD === 0 ? lr : lrD, pytorch: peerLr }, beta1: 0.5, ema, threads, n, eval_seed: evalSeed, grid_seed: gridSeed, data_file: meta === null ? null : relative(ROOT, dataFile), work: relative(ROOT, work) || work },
  pytorch: trainRuns.find((r) => r.side === 'pytorch')?.version ?? null,
  engine: trainRuns.find((r) => r.side === 'ours')?.engine ?? null,
  // The local classifier is trained on first use, per machine: FIDs of another run compare with these only under the same id.
  feature_extractors: [...new Set(rows.map((r) => r.feature_extractor))],
  summary: summaryRows,
  equal_wall_time: equal.map((e) => ({ ...e, models: e.models.map((m) => m.config) })),
  runs: rows,
  train: trainRuns.map((r) => ({ ...r, dir: relative(ROOT, r.dir) })),
  grids: existsSync(gridFile) ? relative(ROOT, gridFile) : null,
  bench_seconds: (performance.now() - started) / 1000,
};
writeJson(resultFile, summary);
if (existsSync(gridFile) && !quick) copyFileSync(gridFile, join(work, `grids${resultTag}-seed${gridSeed}.png`));
emit(summary);

// The table: median [min – max] over the seeds.
const cell = (s: { median: number; min: number; max: number } | null, digits: number): string =>
  s === null ? 'n/a' : s.min === s.max ? s.median.toFixed(digits) : `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
log('');
log(`| configuration | seeds | fid_local | kid_local | precision | recall | classes covered | rarest class share | train s | steps |`);
log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const s of summaryRows) {
  const g = (k: (typeof keys)[number]) => (s as unknown as Record<string, { median: number; min: number; max: number } | null>)[k] ?? null;
  log(`| ${s.config} | ${s.seeds.length} | ${cell(g('fid_local'), 2)} | ${cell(g('kid_local'), 4)} | ${cell(g('precision_local'), 3)} | ${cell(g('recall_local'), 3)} | ${cell(g('classes_covered'), 0)} | ${cell(g('min_class_share'), 3)} | ${cell(g('train_seconds'), 0)} | ${cell(g('steps'), 0)} |`);
}
for (const e of equal) log(`equal wall time, seed ${e.seed}: ${e.seconds.toFixed(1)} s (${e.faster === 'ours' ? "ours' full run" : "PyTorch's full run"}); the slower side at step ${e.slower_step} of ${e.slower_full_steps} (${e.how})`);
log(`feature extractor${summary.feature_extractors.length === 1 ? '' : 's'}: ${summary.feature_extractors.join(', ')} (numbers compare only under the same id)`);
log(`results: ${relative(ROOT, resultFile)}${existsSync(gridFile) ? `, grids: ${relative(ROOT, gridFile)}` : ''}`);
