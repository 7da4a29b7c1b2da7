/**
 * A pool of worker threads over the shared WebAssembly.Memory. Kernels are synchronous, so
 * a call publishes the kernel and its arguments in shared control memory, wakes the workers,
 * does thread 0's share itself and waits (Atomics.wait) for the others: no messages, no copies.
 * The worker code is inline, so the same pool works from source, from dist and in bundles.
 */
import { Worker } from 'node:worker_threads';

const GENERATION = 0;
const PENDING = 1;
const KERNEL = 2;
const ARGC = 3;
const READY = 4;
const FAILED = 5;
const MAX_ARGS = 32;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, args, tid, names } = workerData;
const ctrl = new Int32Array(control);
const argv = new Float64Array(args);
const instance = new WebAssembly.Instance(module, { env: { memory } });
const table = names.map((name) => instance.exports[name]);
// Read the generation before saying ready: the first job may be published right after.
let seen = Atomics.load(ctrl, ${GENERATION});
Atomics.add(ctrl, ${READY}, 1);
Atomics.notify(ctrl, ${READY});
for (;;) {
  Atomics.wait(ctrl, ${GENERATION}, seen);
  seen = Atomics.load(ctrl, ${GENERATION});
  const kernel = Atomics.load(ctrl, ${KERNEL});
  if (kernel < 0) break;
  const argc = ctrl[${ARGC}];
  const a = Array.from(argv.subarray(0, argc));
  try { table[kernel](tid, ...a); } catch (e) { Atomics.store(ctrl, ${FAILED}, 1); }
  if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
}
parentPort.close();
`;

export class ThreadPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(64));
  private readonly args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
  private readonly workers: Worker[] = [];
  private readonly ids: Map<string, number>;

  /** `threads` counts the calling thread: 2 threads = the caller + 1 worker. */
  constructor(readonly threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[]) {
    this.ids = new Map(names.map((n, i) => [n, i]));
    for (let tid = 1; tid < threads; tid++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module, memory, control: this.control.buffer, args: this.args.buffer, tid, names },
      });
      worker.unref();
      this.workers.push(worker);
    }
    // Block until every worker has instantiated the module (they start on their own threads).
    const deadline = Date.now() + 30000;
    let ready: number;
    while ((ready = Atomics.load(this.control, READY)) < this.workers.length) {
      if (Date.now() > deadline) throw new Error(`wasm backend: only ${ready} of ${this.workers.length} worker threads started`);
      Atomics.wait(this.control, READY, ready, 100);
    }
  }

  /** Runs kernel `name` on every thread: `local` is this thread's share (tid 0). */
  run(name: string, args: readonly number[], local: (...a: number[]) => void): void {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`wasm backend: unknown kernel ${name}`);
    this.args.set(args);
    Atomics.store(this.control, KERNEL, id);
    Atomics.store(this.control, ARGC, args.length);
    Atomics.store(this.control, PENDING, this.workers.length);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    local(0, ...args);
    let pending: number;
    while ((pending = Atomics.load(this.control, PENDING)) !== 0) Atomics.wait(this.control, PENDING, pending);
    if (Atomics.exchange(this.control, FAILED, 0) !== 0) throw new Error(`wasm backend: kernel ${name} failed in a worker thread`);
  }

  close(): void {
    Atomics.store(this.control, KERNEL, -1);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    for (const w of this.workers) void w.terminate();
  }
}
