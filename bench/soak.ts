/**
 * Memory and handle soak (issue 10): a long training run at 16×16 on the shapes data through
 * runTraining, so that the run folder is part of it (a metrics line appended every step, a
 * checkpoint and a sample grid every --write-every steps, the report at the end). Every --every
 * steps it records resident memory (after a garbage collection), the engine's live tensors and
 * the open file descriptors (/proc/self/fd, Linux only); all must stay flat.
 *
 *   node --import tsx bench/soak.ts --steps 5000     one JSON line per sample, then a summary line
 *
 * Flags: --steps (5000), --every (500), --write-every (100), --batch (4), --ngf, --ndf (8),
 * --nz (16), --backend (the default one), --threads (1), --out (a temporary folder, removed).
 * test/soak.test.ts runs a shorter one in `npm test`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { getBackendName, memory, setBackend, setThreads } from '../src/index.js';
import { resolveTrainConfig, runTraining, type RunResult } from '../src/train/index.js';
import { parseFlags } from './util.js';

export interface SoakOptions {
  steps: number;
  /** Record a sample every this many steps (and one before the first step). */
  every: number;
  /** Write the checkpoint and a sample grid every this many steps. */
  writeEvery: number;
  batchSize: number;
  ngf: number;
  ndf: number;
  nz: number;
  /** The run folder; a temporary one (removed afterwards) when absent. */
  outDir?: string;
  onSample?: (sample: SoakSample) => void;
}

export interface SoakSample {
  step: number;
  /** Resident set size after a full garbage collection. */
  rssMiB: number;
  heapUsedMiB: number;
  /** V8's heap as reserved from the system (it grows its young generation as allocation speeds up). */
  heapTotalMiB: number;
  /** Memory outside V8's heap held by JavaScript objects (ArrayBuffers…). */
  externalMiB: number;
  /** The engine's live tensors and their bytes (memory()). */
  tensors: number;
  tensorBytes: number;
  /** Open file descriptors, or null where /proc/self/fd does not exist. */
  fds: number | null;
}

export interface SoakSummary {
  steps: number;
  status: RunResult['status'];
  backend: string;
  batchSize: number;
  seconds: number;
  rssMiB: number[];
  /** RSS of the last sample minus that of the second (the first is before any step). */
  rssGrowthMiB: number;
  tensors: number[];
  fdsBefore: number | null;
  fdsAfter: number | null;
}

const MiB = 1024 * 1024;
const round = (bytes: number): number => Math.round((bytes / MiB) * 100) / 100;

/** A full garbage collection, exposing V8's `gc` when the process was not started with --expose-gc. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Open file descriptors of this process (Linux), or null elsewhere. */
export function openFileDescriptors(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

export async function soak(options: SoakOptions): Promise<{ samples: SoakSample[]; summary: SoakSummary }> {
  const gc = collector();
  const outDir = options.outDir ?? mkdtempSync(join(tmpdir(), 'dcgan-soak-'));
  const samples: SoakSample[] = [];
  const record = (step: number): void => {
    gc();
    const usage = process.memoryUsage();
    const live = memory();
    const sample: SoakSample = {
      step,
      rssMiB: round(usage.rss),
      heapUsedMiB: round(usage.heapUsed),
      heapTotalMiB: round(usage.heapTotal),
      externalMiB: round(usage.external),
      tensors: live.numTensors,
      tensorBytes: live.numBytes,
      fds: openFileDescriptors(),
    };
    samples.push(sample);
    options.onSample?.(sample);
  };
  const config = resolveTrainConfig({
    data: 'shapes',
    imageSize: 16,
    channels: 3,
    nz: options.nz,
    ngf: options.ngf,
    ndf: options.ndf,
    batchSize: options.batchSize,
    steps: options.steps,
    checkpointEvery: options.writeEvery,
    sampleEvery: options.writeEvery,
  });
  gc();
  const fdsBefore = openFileDescriptors();
  const started = performance.now();
  let result: RunResult;
  try {
    result = await runTraining({
      config,
      outDir,
      onEvent: (event) => {
        if (event.type === 'start') record(0);
      },
      afterStep: (trainer) => {
        if (trainer.step % options.every === 0) record(trainer.step);
      },
    });
  } finally {
    if (options.outDir === undefined) rmSync(outDir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  gc();
  const fdsAfter = openFileDescriptors();
  const second = samples[Math.min(1, samples.length - 1)]!;
  const last = samples.at(-1)!;
  return {
    samples,
    summary: {
      steps: result.step,
      status: result.status,
      backend: getBackendName(),
      batchSize: options.batchSize,
      seconds: Math.round(seconds * 10) / 10,
      rssMiB: samples.map((s) => s.rssMiB),
      rssGrowthMiB: Math.round((last.rssMiB - second.rssMiB) * 100) / 100,
      tensors: samples.map((s) => s.tensors),
      fdsBefore,
      fdsAfter,
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flags = parseFlags(process.argv.slice(2));
  if (flags['backend'] !== undefined) setBackend(flags['backend']);
  setThreads(Number(flags['threads'] ?? 1));
  const { summary } = await soak({
    steps: Number(flags['steps'] ?? 5000),
    every: Number(flags['every'] ?? 500),
    writeEvery: Number(flags['write-every'] ?? 100),
    batchSize: Number(flags['batch'] ?? 4),
    ngf: Number(flags['ngf'] ?? 8),
    ndf: Number(flags['ndf'] ?? 8),
    nz: Number(flags['nz'] ?? 16),
    outDir: flags['out'],
    onSample: (sample) => console.log(JSON.stringify(sample)),
  });
  console.log(JSON.stringify({ summary }));
}
