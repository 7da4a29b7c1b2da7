/**
 * How fast an image folder starts and feeds training: time to the first batch on a cold cache
 * (the first run: the folder is listed, decoded in worker threads and written to a cache file),
 * on a first run with lazy decoding (openDataset returns after the stat walk; images are decoded
 * on demand while the workers fill the cache: time to the first batch, the loader's images/s over
 * the first epoch while the workers run, and when the cache is complete), on a warm cache (a
 * later run: a stat walk and the cache's header), and the loader's images/s reading shuffled
 * batches from the cache, to set against what a training step consumes.
 *
 *   node bench/data/make_folder.mjs --out /tmp/faces --count 200000 --unique 2000
 *   node --import tsx bench/data/loader.ts --data /tmp/faces [--image-size 64] [--channels 3]
 *        [--batch 64] [--batches 300] [--decoder sharp|js] [--workers N] [--cache-dir DIR] [--keep]
 *        [--phases lazy,warm,cold] [--epoch-batches N]
 *
 * Each phase runs in a process of its own (so "since start" includes Node's start and module
 * loading, as for a `dcgan train` command); the cache goes to a fresh folder under the system
 * temp folder unless --cache-dir is given, and is deleted at the end unless --keep.
 * Prints one JSON object on stdout; progress on stderr.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DataLoader, DEFAULT_MAX_IMAGE_PIXELS, folderCachePath, LazyFolderDataset, openDataset } from '../../src/data/index.js';
import { defaultDecoder } from '../../src/data/folder.js';
import { runJson } from '../util.js';

function flags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = 'true';
    else out[a.slice(2)] = argv[++i]!;
  }
  return out;
}

interface PhaseResult {
  phase: string;
  built: boolean;
  images: number;
  /** Seconds from the process's start to the first batch in hand. */
  firstBatchSinceStart: number;
  /** Seconds of openDataset alone. */
  openSeconds: number;
  /** Loader throughput over `batches` shuffled batches (warm phase only). */
  loaderImagesPerSec: number | null;
  /** Median ms of one batch's next(). */
  batchMs: number | null;
  cacheBytes: number;
  rssMiB: number;
  /** Lazy phase: loader images/s over the first epoch (or --epoch-batches batches) while the workers fill the cache. */
  firstEpochImagesPerSec?: number;
  firstEpochBatches?: number;
  /** Lazy phase: images decoded on demand (not yet prepared when read), of those read. */
  onDemand?: number;
  /** Lazy phase: seconds from openDataset's return to the finished cache file. */
  cacheCompleteSeconds?: number;
}

async function phase(f: Record<string, string>): Promise<PhaseResult> {
  const imageSize = Number(f['image-size'] ?? 64);
  const channels = Number(f['channels'] ?? 3) as 1 | 3;
  const batchSize = Number(f['batch'] ?? 64);
  let lastNote = 0;
  const t0 = performance.now();
  const dataset = await openDataset(f['data']!, {
    imageSize,
    channels,
    cacheDir: f['cache-dir'],
    decoder: f['decoder'] as 'js' | 'sharp' | undefined,
    lazy: f['phase'] === 'lazy' ? true : f['phase'] === 'cold' ? false : undefined,
    workers: f['workers'] === undefined ? undefined : Number(f['workers']),
    onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
    onProgress: (done, total) => {
      const t = performance.now();
      if (t - lastNote > 10_000 || done === total) {
        lastNote = t;
        process.stderr.write(`  prepared ${done}/${total} (${((done * 1000) / (t - t0)).toFixed(0)} images/s)\n`);
      }
    },
  });
  const opened = performance.now();
  const openSeconds = (opened - t0) / 1000;
  let completeAt = -1;
  if (dataset instanceof LazyFolderDataset) void dataset.ready.then((ok) => (completeAt = ok ? performance.now() : -1));
  const loader = new DataLoader(dataset, { batchSize, seed: 1 });
  const first = loader.next();
  first.images.dispose();
  const firstBatchSinceStart = performance.now() / 1000; // performance.now() counts from the process's start
  const cache = (dataset as { cache?: { file: string; built: boolean } }).cache;
  let loaderImagesPerSec: number | null = null;
  let batchMs: number | null = null;
  const extra: Partial<PhaseResult> = {};
  const lazy = dataset instanceof LazyFolderDataset ? dataset : null;
  if (lazy !== null) {
    const batches = Number(f['epoch-batches'] ?? Math.floor(dataset.length / batchSize));
    const start = performance.now();
    for (let b = 1; b < batches; b++) loader.next().images.dispose();
    extra.firstEpochImagesPerSec = ((batches - 1) * batchSize * 1000) / (performance.now() - start);
    extra.firstEpochBatches = batches;
    extra.onDemand = lazy.onDemand;
    await lazy.ready;
    extra.cacheCompleteSeconds = completeAt < 0 ? -1 : (completeAt - opened) / 1000;
  }
  if (f['phase'] === 'warm') {
    const batches = Number(f['batches'] ?? 300);
    const times: number[] = [];
    const start = performance.now();
    for (let b = 0; b < batches; b++) {
      const s = performance.now();
      loader.next().images.dispose();
      times.push(performance.now() - s);
    }
    loaderImagesPerSec = (batches * batchSize * 1000) / (performance.now() - start);
    times.sort((a, b) => a - b);
    batchMs = times[Math.floor(times.length / 2)]!;
  }
  return {
    phase: f['phase']!,
    built: cache?.built ?? false,
    images: dataset.length,
    firstBatchSinceStart,
    openSeconds,
    loaderImagesPerSec,
    batchMs,
    cacheBytes: cache ? statSync(cache.file).size : 0,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    ...extra,
  };
}

const f = flags(process.argv.slice(2));
if (f['data'] === undefined) {
  console.error('usage: node --import tsx bench/data/loader.ts --data DIR [--image-size 64] [--channels 3] [--batch 64] [--batches 300] [--decoder sharp|js] [--workers N] [--cache-dir DIR] [--keep]');
  process.exit(2);
}
if (f['phase'] !== undefined) {
  console.log(JSON.stringify(await phase(f)));
} else {
  const own = f['cache-dir'] === undefined;
  const cacheDir = f['cache-dir'] ?? mkdtempSync(join(tmpdir(), 'dcgan-loader-bench-'));
  const self = fileURLToPath(import.meta.url);
  const pass = Object.entries({ ...f, 'cache-dir': cacheDir }).flatMap(([k, v]) => [`--${k}`, v]);
  const run = (name: string): PhaseResult => {
    process.stderr.write(`${name}:\n`);
    const r = runJson<PhaseResult>(process.execPath, ['--import', 'tsx', self, ...pass, '--phase', name], process.env, true);
    process.stderr.write(`  ${JSON.stringify(r)}\n`);
    return r;
  };
  try {
    // A cold start: this folder's cache file (for these settings) goes first.
    const decoder = (f['decoder'] as 'js' | 'sharp' | undefined) ?? (await defaultDecoder());
    const file = folderCachePath(cacheDir, f['data'], Number(f['image-size'] ?? 64), Number(f['channels'] ?? 3), DEFAULT_MAX_IMAGE_PIXELS, decoder);
    // lazy and cold are first runs (the cache file is deleted before each); warm reuses the cache.
    const results: Record<string, PhaseResult> = {};
    for (const name of (f['phases'] ?? 'cold,warm').split(',')) {
      if (name === 'lazy' || name === 'cold') rmSync(file, { force: true });
      results[name] = run(name);
    }
    console.log(JSON.stringify({ data: f['data'], imageSize: Number(f['image-size'] ?? 64), channels: Number(f['channels'] ?? 3), batch: Number(f['batch'] ?? 64), decoder, ...results }));
  } finally {
    if (own && f['keep'] !== 'true') rmSync(cacheDir, { recursive: true, force: true });
  }
}
