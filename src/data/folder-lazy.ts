/**
 * Lazy decoding of an image folder's first run: the data set that openImageFolder returns while
 * the folder's cache file is still being prepared (folder-cache.ts, startFolderCachePreparation),
 * so that training starts after the stat walk instead of after the whole preparation.
 *
 * The preparation's workers write slots into the temporary cache file and set each slot's flag
 * (a SharedArrayBuffer, Int32 per slot) after its bytes are written. read(i) looks at slot i's
 * flag (Atomics.load): written → one pread from the temporary file, as CachedFolderDataset reads
 * the finished one; pending → it asks the on-demand worker (a worker thread running the very
 * decodeSlots code of the preparation, with the same decoder, so the bytes are identical) for
 * that slot and blocks on the flag (Atomics.wait) until the bytes are in the file. The on-demand
 * worker writes the slot into the temporary file like any worker, so the preparation does not
 * decode it again. When every slot is done the preparation writes the header and footer and
 * renames the file exactly as a non-lazy preparation does; this data set keeps reading through
 * its open descriptor, and later runs open the finished cache. If the process stops first, only
 * the temporary file is left, removed by the next preparation; close() aborts the preparation
 * and removes it at once.
 *
 * The length is the number of listed files, fixed before anything is decoded. An image that
 * fails to decode (flag SLOT_FAILED) is served as the next readable image in slot order
 * (wrapping around), and is reported in the usual one warning once the preparation finishes;
 * the finished cache skips it, so a later run has that many fewer images. With no failures the
 * length, order and bytes are those of the finished cache, so the same seed gives the same batches.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { checkRead, DatasetError, type ImageDataset } from './common.js';
import { folderClasses, folderLabels, SLOT_PENDING, SLOT_WRITTEN, startWorker, type CacheHeader, type Preparation, type PrepareJob } from './folder-cache.js';

/** How long read() waits for one on-demand decode before giving up. */
const ON_DEMAND_TIMEOUT_MS = 120_000;

export class LazyFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  /** The path of each image (every listed file), relative to the folder. */
  readonly files: readonly string[];
  readonly classes?: readonly string[];
  /** The cache file being built (built: true) — it exists at this name once `ready` resolves. */
  readonly cache: { file: string; built: boolean };
  readonly lazy = true;
  /** Resolves when the preparation ends: true when the cache file is complete, false when it failed or was aborted. */
  readonly ready: Promise<boolean>;
  /**
   * Resolves when the on-demand decoder (a worker thread) has loaded its modules: read() blocks
   * this thread on it, so it must be running first (openImageFolder awaits this).
   */
  readonly started: Promise<void>;
  /** Images decoded on demand by read() (not yet written by the preparation when asked for). */
  onDemand = 0;
  private readonly labels: Uint32Array | null;
  private readonly per: number;
  private readonly buffer: Buffer;
  private readonly flags: Int32Array;
  private readonly ctrl: Int32Array;
  private urgent: Worker | null;
  private urgentError: string | null = null;
  private fd: number | null;
  private finished = false;

  constructor(
    readonly name: string,
    file: string,
    private readonly preparation: Preparation,
    job: Omit<PrepareJob, 'temp' | 'flags'>,
    onComplete: (header: CacheHeader) => void,
    onWarning?: (message: string) => void,
  ) {
    this.cache = { file, built: true };
    this.channels = job.channels;
    this.imageSize = job.imageSize;
    this.per = job.channels * job.imageSize * job.imageSize;
    this.files = job.files;
    this.length = job.files.length;
    this.buffer = Buffer.alloc(this.per);
    this.flags = preparation.flags;
    const classes = folderClasses(this.files);
    if (classes !== null) {
      this.classes = classes;
      this.labels = folderLabels(this.files, classes);
    } else {
      this.labels = null;
    }
    this.fd = openSync(preparation.temp, 'r');
    const urgent = new SharedArrayBuffer(8);
    this.ctrl = new Int32Array(urgent);
    try {
      this.urgent = startWorker({ ...job, temp: preparation.temp, flags: preparation.flags.buffer as SharedArrayBuffer, urgent });
    } catch (error) {
      closeSync(this.fd);
      preparation.abort();
      throw error;
    }
    this.urgent.unref();
    const worker = this.urgent;
    this.started = new Promise<void>((resolveStarted, rejectStarted) => {
      worker.on('message', (m: { error?: string; ready?: boolean }) => {
        if (m.ready === true) resolveStarted();
        if (m.error !== undefined) {
          this.urgentError = m.error;
          rejectStarted(new DatasetError(`the on-demand image decoder did not start: ${m.error}`));
        }
      });
      worker.on('error', (error) => {
        this.urgentError = error.message;
        rejectStarted(error);
      });
      // A small folder can be prepared before the on-demand decoder has even started; its
      // stop is then no failure: every image is in the cache, nothing is decoded on demand.
      worker.on('exit', () => (this.finished ? resolveStarted() : rejectStarted(new DatasetError('the on-demand image decoder stopped'))));
    });
    this.ready = preparation.done.then(
      (header) => {
        this.finished = true;
        this.stopUrgent();
        onComplete(header);
        return true;
      },
      (error: unknown) => {
        this.stopUrgent();
        if (this.fd !== null) onWarning?.(`the image cache of ${name} could not be finished (${(error instanceof Error ? error.message : String(error)).split('\n')[0]}); it will be prepared again next time`);
        return false;
      },
    );
  }

  /** Whether the preparation finished and the cache file is complete. */
  get complete(): boolean {
    return this.finished;
  }

  private stopUrgent(): void {
    if (this.urgent !== null) void this.urgent.terminate();
    this.urgent = null;
  }

  /** The state of slot `slot`, decoding it on demand (blocking) while it is pending. */
  private settle(slot: number): number {
    let state = Atomics.load(this.flags, slot);
    if (state !== SLOT_PENDING) return state;
    if (this.urgent === null) throw new DatasetError(`${this.name}: image ${slot} is not prepared and the preparation has stopped`);
    this.onDemand++;
    Atomics.store(this.ctrl, 0, slot);
    Atomics.add(this.ctrl, 1, 1);
    Atomics.notify(this.ctrl, 1);
    const deadline = Date.now() + ON_DEMAND_TIMEOUT_MS;
    while ((state = Atomics.load(this.flags, slot)) === SLOT_PENDING) {
      Atomics.wait(this.flags, slot, SLOT_PENDING, 1000);
      if (Date.now() > deadline) {
        throw new DatasetError(`${this.name}: decoding image ${this.files[slot]} on demand took over ${ON_DEMAND_TIMEOUT_MS / 1000} s${this.urgentError === null ? '' : ` (${this.urgentError})`}`);
      }
    }
    return state;
  }

  /** The slot that serves index `index`: itself, or the next readable one when it failed to decode. */
  private slotOf(index: number): number {
    const n = this.length;
    for (let k = 0; k < n; k++) {
      const slot = (index + k) % n;
      if (this.settle(slot) === SLOT_WRITTEN) return slot;
    }
    throw new DatasetError(`no readable images in ${this.name}: all ${n} image files failed to decode`);
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    if (this.fd === null) throw new DatasetError(`${this.name}: the data set was closed`);
    const slot = this.slotOf(index);
    const n = this.per;
    const src = this.buffer;
    const at = slot * n;
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, src, got, n - got, at + got);
      if (r === 0) throw new DatasetError(`${this.name}: the cache file ${this.cache.file} ended early`);
      got += r;
    }
    for (let i = 0; i < n; i++) out[offset + i] = src[i]! / 127.5 - 1;
  }

  label(index: number): number {
    if (this.labels === null) throw new RangeError(`${this.name}: the folder has no class subfolders`);
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`${this.name}: image index ${index} is out of range [0, ${this.length})`);
    return this.labels[this.slotOf(index)]!;
  }

  /** Closes the file; an unfinished preparation is aborted (its temporary file removed, no cache left). */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    if (!this.finished) this.preparation.abort();
    this.stopUrgent();
  }
}
