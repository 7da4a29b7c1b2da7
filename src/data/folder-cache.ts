/**
 * The persistent preprocessed cache of an image folder: one file per (folder, image size,
 * channels, size limit, decoder version) under `<cacheDir()>/folders/`, holding every image
 * already decoded, cropped, resized and converted (CHW bytes), so that a later run starts in the
 * time of a stat walk and reads images with one pread each, never holding the whole set.
 *
 * File layout:
 *   slots      files.length × perImage bytes: slot k holds file k's image (zeros if it was skipped)
 *   header     UTF-8 JSON (CacheHeader): the file list with sizes and mtimes, the skipped files
 *              with reasons, the classes, the settings
 *   footer     24 bytes: "DCGANFC1", header offset (u64 LE), header length (u32 LE), CRC-32 of
 *              the header (u32 LE)
 *
 * The header goes last because the images are written first, in parallel, by worker threads
 * (folder-worker.ts) at their slot offsets, into a temporary file; the header, footer, fsync
 * and rename come only after every worker is done, so a killed preparation leaves a temporary
 * file (removed by the next preparation) and never a file at the cache's name. A cache whose
 * footer, header or size does not add up is rebuilt, never trusted.
 */
import { removeStaleTemporaries } from '../io/atomic.js';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync, ftruncateSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { checkRead, DatasetError, type ImageDataset } from './common.js';

/** Bump whenever decoding, resizing or the layout changes the bytes a cache holds. */
export const FOLDER_CACHE_VERSION = 1;
export const FOLDER_CACHE_MAGIC = 'DCGANFC1';
export const FOLDER_CACHE_FOOTER = 24;
/** A header larger than this is refused (200 000 files take about 12 MB). */
const MAX_HEADER_BYTES = 1 << 30;

/** One listed file: its path relative to the folder ('/' separators), size in bytes, mtime in ms. */
export type CachedFileEntry = [path: string, size: number, mtimeMs: number];

export interface SkippedFile {
  /** The slot (index into `files`). */
  slot: number;
  reason: string;
  /** Set when the header promised more pixels than the limit: [width, height]. */
  tooLarge?: [number, number];
}

export interface CacheHeader {
  format: 'dcgan-folder-cache';
  version: number;
  /** The folder's absolute path when it was built (for people reading the file). */
  dir: string;
  imageSize: number;
  channels: 1 | 3;
  maxImagePixels: number;
  /** The JPEG decoder that prepared it: 'js' (jpeg-js) or 'sharp' (libjpeg-turbo). */
  decoder: 'js' | 'sharp';
  /** Every image file listed, in slot order (the sorted listing). */
  files: CachedFileEntry[];
  skipped: SkippedFile[];
  /** Class names (first-level subfolders) when every image sits in one of ≥ 2 subfolders, else null. */
  classes: string[] | null;
}

export interface CacheFooter {
  headerOffset: number;
  headerLength: number;
  crc: number;
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Parses the 24-byte footer of a cache file of `fileSize` bytes. Throws DatasetError. */
export function parseCacheFooter(footer: Uint8Array, fileSize: number): CacheFooter {
  if (footer.length !== FOLDER_CACHE_FOOTER || fileSize < FOLDER_CACHE_FOOTER) throw new DatasetError('folder cache: too short for a footer (truncated)');
  for (let i = 0; i < 8; i++) {
    if (footer[i] !== FOLDER_CACHE_MAGIC.charCodeAt(i)) throw new DatasetError('folder cache: no DCGANFC1 footer (truncated or not a cache file)');
  }
  const lo = u32le(footer, 8);
  const hi = u32le(footer, 12);
  if (hi >= 2 ** 21) throw new DatasetError('folder cache: header offset out of range');
  const headerOffset = hi * 2 ** 32 + lo;
  const headerLength = u32le(footer, 16);
  const crc = u32le(footer, 20);
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) throw new DatasetError(`folder cache: header length ${headerLength} out of range`);
  if (headerOffset + headerLength + FOLDER_CACHE_FOOTER !== fileSize) {
    throw new DatasetError(`folder cache: header at ${headerOffset} of ${headerLength} bytes does not end where the footer starts (the file is ${fileSize} bytes)`);
  }
  return { headerOffset, headerLength, crc };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks a cache header (its CRC, fields, and that the slots fill `footer.headerOffset` bytes). */
export function parseCacheHeader(bytes: Uint8Array, footer: CacheFooter): CacheHeader {
  if (bytes.length !== footer.headerLength) throw new DatasetError('folder cache: header truncated');
  if (crc32(bytes) >>> 0 !== footer.crc) throw new DatasetError('folder cache: header checksum mismatch (corrupt)');
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new DatasetError('folder cache: header is not valid JSON');
  }
  const bad = (what: string): never => {
    throw new DatasetError(`folder cache: invalid header (${what})`);
  };
  if (typeof h !== 'object' || h === null || Array.isArray(h)) bad('not an object');
  const o = h as Record<string, unknown>;
  if (o['format'] !== 'dcgan-folder-cache') bad('format');
  if (!isCount(o['version'])) bad('version');
  if (typeof o['dir'] !== 'string') bad('dir');
  const imageSize = o['imageSize'];
  if (!isCount(imageSize) || imageSize < 1 || imageSize > 65536) bad('imageSize');
  const channels = o['channels'];
  if (channels !== 1 && channels !== 3) bad('channels');
  if (!isCount(o['maxImagePixels'])) bad('maxImagePixels');
  if (o['decoder'] !== 'js' && o['decoder'] !== 'sharp') bad('decoder');
  const files = o['files'];
  if (!Array.isArray(files)) bad('files');
  for (const f of files as unknown[]) {
    if (!Array.isArray(f) || f.length !== 3 || typeof f[0] !== 'string' || !isCount(f[1]) || typeof f[2] !== 'number' || !Number.isFinite(f[2])) bad('a file entry');
  }
  const n = (files as unknown[]).length;
  const skipped = o['skipped'];
  if (!Array.isArray(skipped)) bad('skipped');
  const seen = new Set<number>();
  for (const s of skipped as unknown[]) {
    if (typeof s !== 'object' || s === null) bad('a skipped entry');
    const e = s as Record<string, unknown>;
    if (!isCount(e['slot']) || (e['slot'] as number) >= n || seen.has(e['slot'] as number) || typeof e['reason'] !== 'string') bad('a skipped entry');
    seen.add(e['slot'] as number);
    const t = e['tooLarge'];
    if (t !== undefined && (!Array.isArray(t) || t.length !== 2 || !isCount(t[0]) || !isCount(t[1]))) bad('a skipped entry');
  }
  const classes = o['classes'];
  if (classes !== null && (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string'))) bad('classes');
  const per = (channels as number) * (imageSize as number) ** 2;
  if (n * per !== footer.headerOffset) bad(`${n} images of ${per} bytes do not fill the ${footer.headerOffset} bytes before the header`);
  return h as CacheHeader;
}

/** Parses a whole cache file's bytes (footer, then header): the reader's checks, for the fuzzer and tests. */
export function parseFolderCache(bytes: Uint8Array): CacheHeader {
  if (bytes.length < FOLDER_CACHE_FOOTER) throw new DatasetError('folder cache: too short for a footer (truncated)');
  const footer = parseCacheFooter(bytes.subarray(bytes.length - FOLDER_CACHE_FOOTER), bytes.length);
  return parseCacheHeader(bytes.subarray(footer.headerOffset, footer.headerOffset + footer.headerLength), footer);
}

/** The header and footer bytes that end a cache file whose slots take `slotBytes` bytes. */
export function encodeCacheTail(header: CacheHeader, slotBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(json.length + FOLDER_CACHE_FOOTER);
  out.set(json, 0);
  const f = new DataView(out.buffer, json.length, FOLDER_CACHE_FOOTER);
  for (let i = 0; i < 8; i++) f.setUint8(i, FOLDER_CACHE_MAGIC.charCodeAt(i));
  f.setUint32(8, slotBytes % 2 ** 32, true);
  f.setUint32(12, Math.floor(slotBytes / 2 ** 32), true);
  f.setUint32(16, json.length, true);
  f.setUint32(20, crc32(json) >>> 0, true);
  return out;
}

/** Class names from first-level subfolders: when every path has one and there are at least two; else null. */
export function folderClasses(paths: readonly string[]): string[] | null {
  const names = new Set<string>();
  for (const p of paths) {
    const cut = p.indexOf('/');
    if (cut <= 0) return null;
    names.add(p.slice(0, cut));
  }
  if (names.size < 2) return null;
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The label (index into `classes`) of each path. */
export function folderLabels(paths: readonly string[], classes: readonly string[]): Uint32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Uint32Array(paths.length);
  paths.forEach((p, i) => {
    const c = index.get(p.slice(0, p.indexOf('/')));
    if (c === undefined) throw new DatasetError(`folder cache: ${p} is in no class folder`);
    out[i] = c;
  });
  return out;
}

/** The cache file of a folder at a size, channel count and limit: `<root>/folders/<sha256>.bin`. */
export function folderCachePath(root: string, dir: string, imageSize: number, channels: number, maxImagePixels: number, decoder: 'js' | 'sharp'): string {
  const key = createHash('sha256')
    .update(JSON.stringify([resolve(dir), imageSize, channels, maxImagePixels, decoder, FOLDER_CACHE_VERSION]))
    .digest('hex');
  return join(root, 'folders', `${key}.bin`);
}

/** Size and mtime of each file (a cheap stat walk). */
export function statFiles(dir: string, files: readonly string[]): CachedFileEntry[] {
  return files.map((f) => {
    const s = statSync(join(dir, f));
    return [f, s.size, s.mtimeMs];
  });
}

function sameFiles(a: readonly CachedFileEntry[], b: readonly CachedFileEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x[0] !== y[0] || x[1] !== y[1] || x[2] !== y[2]) return false;
  }
  return true;
}

export interface OpenedCache {
  fd: number;
  header: CacheHeader;
}

/**
 * Opens the cache file and checks it against the current listing and settings. Returns null
 * (closing it) when it is missing, corrupt, truncated or stale; never throws for a bad file.
 */
export function openFolderCache(file: string, expected: { files: readonly CachedFileEntry[]; imageSize: number; channels: 1 | 3; maxImagePixels: number; decoder: 'js' | 'sharp' }): OpenedCache | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < FOLDER_CACHE_FOOTER) return fail(fd);
    const tail = Buffer.alloc(FOLDER_CACHE_FOOTER);
    if (readSync(fd, tail, 0, FOLDER_CACHE_FOOTER, size - FOLDER_CACHE_FOOTER) !== FOLDER_CACHE_FOOTER) return fail(fd);
    const footer = parseCacheFooter(tail, size);
    const bytes = Buffer.alloc(footer.headerLength);
    if (readSync(fd, bytes, 0, bytes.length, footer.headerOffset) !== bytes.length) return fail(fd);
    const header = parseCacheHeader(bytes, footer);
    if (
      header.version !== FOLDER_CACHE_VERSION ||
      header.imageSize !== expected.imageSize ||
      header.channels !== expected.channels ||
      header.maxImagePixels !== expected.maxImagePixels ||
      header.decoder !== expected.decoder ||
      !sameFiles(header.files, expected.files)
    ) {
      return fail(fd);
    }
    return { fd, header };
  } catch {
    return fail(fd);
  }
}

function fail(fd: number): null {
  closeSync(fd);
  return null;
}

/** How the prepared images are read: one pread of an image's bytes per read(). */
export class CachedFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  /** The path of each image, relative to the folder. */
  readonly files: readonly string[];
  readonly classes?: readonly string[];
  private readonly slots: Uint32Array;
  private readonly labels: Uint32Array | null;
  private readonly per: number;
  private readonly buffer: Buffer;
  private fd: number | null;

  constructor(
    readonly name: string,
    /** The cache file, and whether this open built it (false: reused). */
    readonly cache: { file: string; built: boolean },
    opened: OpenedCache,
  ) {
    const { header } = opened;
    this.fd = opened.fd;
    this.channels = header.channels;
    this.imageSize = header.imageSize;
    this.per = header.channels * header.imageSize * header.imageSize;
    const skipped = new Set(header.skipped.map((s) => s.slot));
    const slots: number[] = [];
    const files: string[] = [];
    header.files.forEach(([path], slot) => {
      if (!skipped.has(slot)) {
        slots.push(slot);
        files.push(path);
      }
    });
    this.slots = Uint32Array.from(slots);
    this.files = files;
    this.length = files.length;
    this.buffer = Buffer.alloc(this.per);
    if (header.classes !== null) {
      this.classes = header.classes;
      this.labels = folderLabels(files, header.classes);
    } else {
      this.labels = null;
    }
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    if (this.fd === null) throw new DatasetError(`${this.name}: the data set was closed`);
    const n = this.per;
    const src = this.buffer;
    let got = 0;
    const at = this.slots[index]! * n;
    while (got < n) {
      const r = readSync(this.fd, src, got, n - got, at + got);
      if (r === 0) throw new DatasetError(`${this.name}: the cache file ${this.cache.file} ended early (truncated while in use?)`);
      got += r;
    }
    for (let i = 0; i < n; i++) out[offset + i] = src[i]! / 127.5 - 1;
  }

  label(index: number): number {
    if (this.labels === null) throw new RangeError(`${this.name}: the folder has no class subfolders`);
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`${this.name}: image index ${index} is out of range [0, ${this.length})`);
    return this.labels[index]!;
  }

  /** Closes the cache file (reads after this throw). */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Preparation

/** What a worker (or the in-thread path) reports for one slot: null when written, else why skipped. */
export type SlotResult = null | { reason: string; tooLarge?: [number, number] };

export interface PrepareJob {
  dir: string;
  temp: string;
  /** Shared per-slot flags (Int32 each: SLOT_PENDING, SLOT_WRITTEN, SLOT_FAILED), set after a slot's bytes are written. */
  flags?: SharedArrayBuffer;
  /** For the pool's workers: an Int32Array over it holds the next unclaimed slot; they claim `chunk` slots at a time. */
  next?: SharedArrayBuffer;
  chunk?: number;
  /** For the on-demand worker: an Int32Array(2) over it holds [requested slot, request count]. */
  urgent?: SharedArrayBuffer;
  files: readonly string[];
  imageSize: number;
  channels: 1 | 3;
  maxImagePixels: number;
  decoder: 'js' | 'sharp';
}

export interface PrepareOptions {
  /** Worker threads (default min(cores, files)); 0 decodes on this thread. */
  workers?: number;
  /** Called after each finished chunk; throwing aborts the preparation (no cache is left). */
  onProgress?: (done: number, total: number) => void;
}

/** The temporary names of cache preparations: `.<cache>.bin.<pid>.<random>.tmp`. */
const PREPARATION_TEMP = /^\..+\.bin\.(?<pid>\d+)\.[a-z0-9]+\.tmp$/;

/** Removes temporary cache files of preparations whose process is gone. */
export function removeStalePreparations(folder: string): string[] {
  return removeStaleTemporaries(folder, { pattern: PREPARATION_TEMP, keepOwn: true });
}

type SlotWriter = (job: PrepareJob, from: number, to: number, fd: number) => Promise<SlotResult[]>;

/** Per-slot state in a preparation's shared flags (Int32Array over PrepareJob.flags). */
export const SLOT_PENDING = 0;
export const SLOT_WRITTEN = 1;
export const SLOT_FAILED = 2;
/**
 * The pool's shared counter is set to this to stop a preparation: workers claim no further
 * chunk and leave the one they decode, then end on their own. (Not Worker.terminate(): a worker
 * stopped inside a zlib call can abort the whole process as Node tears it down.)
 */
export const PREPARATION_STOPPED = 2 ** 30;

/** A preparation under way (startFolderCachePreparation). */
export interface Preparation {
  /** The temporary file the slots are written to (renamed to the cache's name when done). */
  readonly temp: string;
  /** Int32Array over the shared per-slot flags (SLOT_PENDING / SLOT_WRITTEN / SLOT_FAILED). */
  readonly flags: Int32Array;
  /** The finished cache's header, after the rename; rejects (the temporary removed) on failure or abort. */
  readonly done: Promise<CacheHeader>;
  /** Stops the workers and removes the temporary file (no cache is left); done then rejects. */
  abort(): void;
}

/**
 * Decodes `files` into a new cache file at `file` (temporary file, then rename). `decodeRange`
 * is the in-thread decoder (folder.ts passes it, to keep this module free of the decoders).
 */
export async function prepareFolderCache(file: string, job: Omit<PrepareJob, 'temp' | 'flags'>, meta: { files: CachedFileEntry[]; dir: string }, decodeRange: SlotWriter, options: PrepareOptions = {}): Promise<CacheHeader> {
  return startFolderCachePreparation(file, job, meta, decodeRange, options).done;
}

/**
 * Starts a preparation and returns at once (the temporary file created and sized): worker
 * threads (or, with workers 0, this thread between awaits) fill the slots, marking each slot's
 * flag after its bytes are written, then the header and footer are written and the file renamed.
 */
export function startFolderCachePreparation(file: string, job: Omit<PrepareJob, 'temp' | 'flags'>, meta: { files: CachedFileEntry[]; dir: string }, decodeRange: SlotWriter, options: PrepareOptions = {}): Preparation {
  const folder = join(file, '..');
  mkdirSync(folder, { recursive: true });
  removeStalePreparations(folder);
  const base = file.slice(folder.length + 1);
  const temp = join(folder, `.${base}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  const total = job.files.length;
  const per = job.channels * job.imageSize * job.imageSize;
  const shared = new SharedArrayBuffer(4 * total);
  const full: PrepareJob = { ...job, temp, flags: shared };
  const control = { aborted: false, stop: (): void => {} };
  let fd = openSync(temp, 'wx', 0o644);
  try {
    ftruncateSync(fd, total * per);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  const run = async (): Promise<CacheHeader> => {
    let renamed = false;
    try {
      const results: SlotResult[] = new Array<SlotResult>(total).fill(null);
      const cores = Math.max(1, availableParallelism());
      const workers = Math.min(options.workers ?? cores, total);
      if (workers <= 0) {
        const chunk = Math.max(1, Math.min(256, Math.ceil(total / 50)));
        for (let from = 0; from < total; from += chunk) {
          if (control.aborted) throw new DatasetError('the image cache preparation was aborted');
          const to = Math.min(total, from + chunk);
          (await decodeRange(full, from, to, fd)).forEach((r, k) => (results[from + k] = r));
          options.onProgress?.(to, total);
        }
      } else {
        await runWorkers(full, workers, results, options.onProgress, control);
      }
      if (control.aborted) throw new DatasetError('the image cache preparation was aborted');
      const skipped: SkippedFile[] = [];
      results.forEach((r, slot) => {
        if (r !== null) skipped.push({ slot, ...r });
      });
      const skippedSlots = new Set(skipped.map((s) => s.slot));
      const kept = job.files.filter((_, i) => !skippedSlots.has(i));
      const header: CacheHeader = {
        format: 'dcgan-folder-cache',
        version: FOLDER_CACHE_VERSION,
        dir: meta.dir,
        imageSize: job.imageSize,
        channels: job.channels,
        maxImagePixels: job.maxImagePixels,
        decoder: job.decoder,
        files: meta.files,
        skipped,
        classes: folderClasses(kept),
      };
      const tail = encodeCacheTail(header, total * per);
      for (let at = 0; at < tail.length; ) at += writeSync(fd, tail, at, tail.length - at, total * per + at);
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      if (control.aborted) throw new DatasetError('the image cache preparation was aborted');
      renameSync(temp, file);
      renamed = true;
      return header;
    } finally {
      if (fd >= 0) closeSync(fd);
      if (!renamed) rmSync(temp, { force: true });
    }
  };
  return {
    temp,
    flags: new Int32Array(shared),
    done: run(),
    abort: () => {
      if (control.aborted) return;
      control.aborted = true;
      control.stop();
    },
  };
}

/**
 * A worker running folder-worker beside this module: the built .js directly; the .ts source
 * (tests, `node --import tsx`) through a bootstrap that registers tsx's loader in the worker
 * first, as loader hooks registered on the main thread do not reach workers in Node 20.
 */
export function startWorker(job: PrepareJob): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./folder-worker.js', import.meta.url), { workerData: job });
  const worker = new URL('./folder-worker.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); });`;
  return new Worker(code, { eval: true, workerData: job });
}

/**
 * Runs `count` workers over all slots; rejects on the first failure. The workers claim chunks of
 * slots themselves from a shared counter (Atomics.add), so that they keep working while this
 * thread is busy (a lazy data set's training loop need not yield for the cache to fill); each
 * posts what it skipped per chunk, and a last message when no chunk is left.
 */
/** How long a worker asked to stop may take to finish its image before it is terminated. */
const STOP_GRACE_MS = 10_000;

function runWorkers(job: PrepareJob, count: number, results: SlotResult[], onProgress: ((done: number, total: number) => void) | undefined, control: { aborted: boolean; stop: () => void }): Promise<void> {
  const total = job.files.length;
  const chunk = Math.max(1, Math.min(256, Math.ceil(total / (count * 16))));
  const claim: PrepareJob = { ...job, next: new SharedArrayBuffer(8), chunk };
  let done = 0;
  let live = count;
  const next = new Int32Array(claim.next!);
  return new Promise<void>((resolvePromise, reject) => {
    let failed = false;
    let failure: Error | null = null;
    const running = new Set<Worker>();
    const finish = (w: Worker): void => {
      running.delete(w);
      if (failed && running.size === 0) reject(failure!);
    };
    // Asks every worker to stop and rejects once they all have; one that does not within
    // STOP_GRACE_MS (a decode that hangs) is terminated.
    const failAll = (error: unknown): void => {
      if (failed) return;
      failed = true;
      failure = error instanceof Error ? error : new DatasetError(String(error));
      Atomics.store(next, 0, PREPARATION_STOPPED);
      if (running.size === 0) reject(failure);
      const timer = setTimeout(() => {
        for (const w of running) void w.terminate();
      }, STOP_GRACE_MS);
      timer.unref();
    };
    control.stop = () => failAll(new DatasetError('the image cache preparation was aborted'));
    for (let i = 0; i < count; i++) {
      let w: Worker;
      try {
        w = startWorker(claim);
      } catch (error) {
        failAll(error);
        return;
      }
      running.add(w);
      let ended = false;
      w.on('message', (m: { from: number; to: number; results: SlotResult[] } | { error: string } | { end: true }) => {
        if ('end' in m) {
          // Its work is done (or it was asked to stop): it waits for nothing, so it can go.
          ended = true;
          void w.terminate();
          if (failed) return;
          live--;
          if (live === 0) resolvePromise();
          return;
        }
        if (failed) return;
        if ('error' in m) {
          failAll(new DatasetError(`preparing the image cache: ${m.error}`));
          return;
        }
        m.results.forEach((r, k) => (results[m.from + k] = r));
        done += m.to - m.from;
        try {
          onProgress?.(done, total);
        } catch (error) {
          failAll(error);
        }
      });
      w.on('error', failAll);
      w.on('exit', (code) => {
        if (!failed && !ended) failAll(new DatasetError(`an image decoding worker stopped (exit code ${code})`));
        finish(w);
      });
    }
  });
}
