/**
 * A pool of worker threads over the shared WebAssembly.Memory. Kernels are synchronous, so
 * a call publishes the kernel and its arguments in shared control memory, wakes the workers,
 * does thread 0's share itself and waits (Atomics.wait) for the others: no messages, no copies.
 * Both sides read the control word for a short while before they sleep on it.
 *
 * The worker code is inline (so the same pool works from source, from dist and in bundles)
 * and is one function, `serve`, for both hosts: the platform wraps it in a `worker_threads`
 * worker in Node and in a Web Worker (from a Blob URL) in browsers.
 *
 * Starting: a browser starts a worker only once its creator returns to the event loop, so
 * there the pool never blocks while its workers start — kernels run on the calling thread
 * until every worker is serving (`started`), and `ready()` resolves then. Node's workers start
 * on their own, and the constructor waits for them, so a pool is in use as soon as it exists.
 */
import type { Platform, WorkerHandle, WorkerReport } from './platform.js';

const GENERATION = 0;
const PENDING = 1;
const KERNEL = 2;
const ARGC = 3;
const READY = 4;
const FAILED = 5;
const BROKEN = 6;
const MAX_ARGS = 32;
/** The control words, for tests that speak the protocol to a worker themselves. */
export const CONTROL_SLOTS = { GENERATION, PENDING, KERNEL, ARGC, READY } as const;
/**
 * Times a thread reads its control word before it sleeps on it (about 0.1 ms): kernels come back
 * to back, and a sleeping thread takes longer to wake than many of them take to run.
 */
const SPIN_CHECKS = 20000;

/** The worker's whole protocol: instantiate on the shared memory, then run published kernels. */
export const SERVE_SOURCE = `function serve(data, post) {
  const { module, memory, control, args, tid, names } = data;
  const ctrl = new Int32Array(control);
  const argv = new Float64Array(args);
  let table;
  try {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    table = names.map((name) => instance.exports[name]);
  } catch (e) {
    Atomics.store(ctrl, ${BROKEN}, 1);
    Atomics.notify(ctrl, ${READY});
    post({ error: String(e && e.message ? e.message : e) });
    return;
  }
  // Read the generation before saying ready: the first job may be published right after.
  let seen = Atomics.load(ctrl, ${GENERATION});
  Atomics.add(ctrl, ${READY}, 1);
  Atomics.notify(ctrl, ${READY});
  post({ ready: true });
  for (;;) {
    for (let spin = 0; spin < ${SPIN_CHECKS} && Atomics.load(ctrl, ${GENERATION}) === seen; spin++);
    // Waking is no proof of a new job: a job seen while spinning (or before sleeping) may be run
    // and done before its publisher's notify arrives, and that late notify must not run it again.
    while (Atomics.load(ctrl, ${GENERATION}) === seen) Atomics.wait(ctrl, ${GENERATION}, seen);
    seen = Atomics.load(ctrl, ${GENERATION});
    const kernel = Atomics.load(ctrl, ${KERNEL});
    if (kernel < 0) break;
    const argc = ctrl[${ARGC}];
    const a = Array.from(argv.subarray(0, argc));
    try { table[kernel](tid, ...a); } catch (e) { Atomics.store(ctrl, ${FAILED}, 1); }
    if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
  }
}`;

export class ThreadPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(64));
  private readonly args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
  private readonly workers: WorkerHandle[] = [];
  private readonly ids: Map<string, number>;
  private readonly whenReady: Promise<void>;
  private failure: string | null = null;
  private closed = false;

  /** `threads` counts the calling thread: 2 threads = the caller + 1 worker. */
  constructor(readonly threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], platform: Platform) {
    this.ids = new Map(names.map((n, i) => [n, i]));
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    this.whenReady = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Unobserved until someone asks for ready(); a failure also shows in `started` and run().
    this.whenReady.catch(() => {});
    let reported = 0;
    const onReport = (report: WorkerReport): void => {
      if ('error' in report) {
        this.failure ??= report.error;
        Atomics.store(this.control, BROKEN, 1);
        reject(new Error(`wasm backend: a worker thread failed to start: ${report.error}`));
      } else if (++reported === this.workers.length) {
        resolve();
      }
    };
    for (let tid = 1; tid < threads; tid++) {
      const data = { module, memory, control: this.control.buffer as SharedArrayBuffer, args: this.args.buffer as SharedArrayBuffer, tid, names };
      this.workers.push(platform.startWorker(SERVE_SOURCE, data, onReport));
    }
    if (this.workers.length === 0) resolve();
    if (!platform.blockingStart) return;
    // Block until every worker has instantiated the module (they start on their own threads).
    const deadline = Date.now() + 30000;
    let ready: number;
    while ((ready = Atomics.load(this.control, READY)) < this.workers.length) {
      if (Atomics.load(this.control, BROKEN) !== 0) {
        this.close();
        throw new Error('wasm backend: a worker thread failed to start');
      }
      if (Date.now() > deadline) {
        this.close();
        throw new Error(`wasm backend: only ${ready} of ${this.workers.length} worker threads started`);
      }
      Atomics.wait(this.control, READY, ready, 100);
    }
    resolve();
  }

  /** Whether every worker is serving (until then kernels run on the calling thread alone). */
  get started(): boolean {
    return !this.closed && Atomics.load(this.control, BROKEN) === 0 && Atomics.load(this.control, READY) === this.workers.length;
  }

  /** Resolves when every worker is serving; rejects if one could not start. */
  ready(): Promise<void> {
    return this.whenReady;
  }

  /** Why a worker could not start, if one could not. */
  get error(): string | null {
    return this.failure;
  }

  /** Runs kernel `name` on every thread: `local` is this thread's share (tid 0). Only once `started`. */
  run(name: string, args: readonly number[], local: (...a: number[]) => void): void {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`wasm backend: unknown kernel ${name}`);
    this.args.set(args);
    Atomics.store(this.control, KERNEL, id);
    Atomics.store(this.control, ARGC, args.length);
    Atomics.store(this.control, PENDING, this.workers.length);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    let localError: { error: unknown } | null = null;
    try {
      local(0, ...args);
    } catch (error) {
      localError = { error };
    }
    // Even when this thread's share failed, wait for the workers and clear their failure flag:
    // returning early would let the next call reset PENDING while they still count down this
    // one (and the pool would hang), and a stale flag would fail the next, healthy call.
    for (let spin = 0; spin < SPIN_CHECKS && Atomics.load(this.control, PENDING) !== 0; spin++);
    let pending: number;
    while ((pending = Atomics.load(this.control, PENDING)) !== 0) Atomics.wait(this.control, PENDING, pending);
    const workerFailed = Atomics.exchange(this.control, FAILED, 0) !== 0;
    if (localError !== null) throw localError.error;
    if (workerFailed) throw new Error(`wasm backend: kernel ${name} failed in a worker thread`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, KERNEL, -1);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    for (const w of this.workers) w.terminate();
  }
}
