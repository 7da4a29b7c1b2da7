/**
 * What the wasm backend needs from its host — files, cores, worker threads, engine flags — in
 * Node and in browsers, chosen at run time by feature detection. Code that browsers load must
 * never name a `node:` module statically, so in Node the built-in modules come from
 * `process.getBuiltinModule` (Node ≥ 20.16: synchronous, so `setBackend('wasm')` stays
 * synchronous), or on older Node from a dynamic import inside `initWasm()`. Type-only imports
 * of node modules below are erased by the compiler.
 */
import type * as NodeFs from 'node:fs';
import type * as NodeOs from 'node:os';
import type * as NodeV8 from 'node:v8';
import type * as NodeWorkerThreads from 'node:worker_threads';

/** What a pool worker is started with (everything is shared or cloneable, nothing is copied per op). */
export interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  tid: number;
  names: readonly string[];
}

/** A message a pool worker posts once: it is serving, or it could not start. */
export type WorkerReport = { ready: true } | { error: string };

export interface WorkerHandle {
  terminate(): void;
}

export interface Platform {
  readonly kind: 'node' | 'browser';
  /** Most threads the calling thread can compute with (1 where worker threads cannot be used). */
  readonly maxThreads: number;
  /** Why `maxThreads` is 1, when it is. */
  readonly threadLimit: string | null;
  /** Whether this thread may block in Atomics.wait while starting workers (Node: yes; browsers: never, see pool.ts). */
  readonly blockingStart: boolean;
  /** The default thread count: every core, within `maxThreads`. */
  defaultThreads(): number;
  /** Lets the engine accept relaxed SIMD where that takes a flag (Node 20's V8); elsewhere nothing. */
  enableRelaxedSimd(): void;
  /** The bytes at a `file:` URL, synchronously; null where files can only be fetched, or when it is missing. */
  readFileSync(url: URL): Uint8Array<ArrayBuffer> | null;
  /** The bytes at a URL, fetched; null when it is not there. */
  fetchBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | null>;
  /**
   * Starts a worker that runs `serve(data, post)`, where `serveSource` is the source of that
   * function; `onReport` gets what the worker posts and a failure to start.
   */
  startWorker(serveSource: string, data: WorkerData, onReport: (report: WorkerReport) => void): WorkerHandle;
}

interface NodeBuiltins {
  fs: typeof NodeFs;
  os: typeof NodeOs;
  v8: typeof NodeV8;
  workerThreads: typeof NodeWorkerThreads;
}

interface NodeProcessLike {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

function nodeProcess(): NodeProcessLike | null {
  const p = (globalThis as { process?: NodeProcessLike }).process;
  return typeof p === 'object' && p !== null && typeof p.versions?.node === 'string' ? p : null;
}

export const isNode = nodeProcess() !== null;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function nodePlatform(m: NodeBuiltins): Platform {
  let flagSet = false;
  return {
    kind: 'node',
    maxThreads: Number.POSITIVE_INFINITY,
    threadLimit: null,
    blockingStart: true,
    defaultThreads: () => m.os.availableParallelism(),
    enableRelaxedSimd() {
      if (flagSet) return;
      m.v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      flagSet = true;
    },
    readFileSync(url) {
      try {
        return new Uint8Array(m.fs.readFileSync(url));
      } catch {
        return null;
      }
    },
    async fetchBytes(url) {
      if (url.protocol === 'file:') return this.readFileSync(url);
      const response = await fetch(url);
      return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    startWorker(serveSource, data, onReport) {
      // import(), not require(): the worker evaluates this as a module when the process runs
      // with --input-type=module, and as a script otherwise; import() works in both.
      const source = `${serveSource}
const workerThreads = 'node:worker_threads';
import(workerThreads).then(({ parentPort, workerData }) => {
  serve(workerData, (report) => parentPort.postMessage(report));
  parentPort.close();
});
`;
      const worker = new m.workerThreads.Worker(source, { eval: true, workerData: data });
      worker.on('message', (report: WorkerReport) => onReport(report));
      worker.on('error', (error: unknown) => onReport({ error: errorMessage(error) }));
      worker.unref();
      return { terminate: () => void worker.terminate() };
    },
  };
}

interface BrowserScope {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Worker?: typeof Worker;
  Blob?: typeof Blob;
  URL?: typeof URL;
}

/** Atomics.wait throws on a browser's main thread (and where SharedArrayBuffer is hidden). */
function mayBlock(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

function browserPlatform(): Platform {
  const scope = globalThis as BrowserScope;
  let threadLimit: string | null = null;
  if (typeof SharedArrayBuffer === 'undefined' || scope.crossOriginIsolated === false) {
    threadLimit = 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  } else if (typeof scope.Worker !== 'function' || typeof scope.Blob !== 'function') {
    threadLimit = 'this context cannot start Web Workers';
  } else if (!mayBlock()) {
    threadLimit = 'Atomics.wait is not allowed on this thread (a page\'s main thread): run the engine in a Web Worker for threads';
  }
  let workerUrl: string | null = null;
  return {
    kind: 'browser',
    maxThreads: threadLimit === null ? Number.POSITIVE_INFINITY : 1,
    threadLimit,
    blockingStart: false,
    defaultThreads: () => (threadLimit === null ? Math.max(1, scope.navigator?.hardwareConcurrency ?? 1) : 1),
    enableRelaxedSimd() {
      // Browsers that have relaxed SIMD ship it on; validation alone decides.
    },
    readFileSync: () => null,
    async fetchBytes(url) {
      const response = await fetch(url);
      return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    startWorker(serveSource, data, onReport) {
      // One Blob URL for every worker: the source is the same, the data comes by message.
      workerUrl ??= URL.createObjectURL(new Blob([`${serveSource}
self.onmessage = (event) => {
  self.onmessage = null;
  serve(event.data, (report) => self.postMessage(report));
  self.close();
};
`], { type: 'text/javascript' }));
      const worker = new Worker(workerUrl);
      worker.onmessage = (event: MessageEvent<WorkerReport>) => onReport(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        onReport({ error: event.message || 'the worker failed to start' });
      };
      worker.postMessage(data);
      return { terminate: () => worker.terminate() };
    },
  };
}

function syncNodeBuiltins(p: NodeProcessLike): NodeBuiltins | null {
  if (typeof p.getBuiltinModule !== 'function') return null;
  const get = p.getBuiltinModule.bind(p);
  return {
    fs: get('node:fs') as typeof NodeFs,
    os: get('node:os') as typeof NodeOs,
    v8: get('node:v8') as typeof NodeV8,
    workerThreads: get('node:worker_threads') as typeof NodeWorkerThreads,
  };
}

let current: Platform | null = null;

/** The platform, where it is available synchronously (always, except in Node < 20.16 before `loadPlatform()`). */
export function platform(): Platform | null {
  if (current !== null) return current;
  const p = nodeProcess();
  if (p === null) return (current = browserPlatform());
  const builtins = syncNodeBuiltins(p);
  return builtins === null ? null : (current = nodePlatform(builtins));
}

/** The platform, loading Node's built-in modules asynchronously where they cannot be had synchronously. */
export async function loadPlatform(): Promise<Platform> {
  const ready = platform();
  if (ready !== null) return ready;
  // Node before 20.16: no getBuiltinModule. The specifiers are hidden from bundlers, which
  // would otherwise try to resolve node: modules for a browser build.
  const load = (id: string): Promise<unknown> => import(/* webpackIgnore: true */ /* @vite-ignore */ id);
  const [fs, os, v8, workerThreads] = await Promise.all(['node:fs', 'node:os', 'node:v8', 'node:worker_threads'].map(load));
  current ??= nodePlatform({
    fs: fs as typeof NodeFs,
    os: os as typeof NodeOs,
    v8: v8 as typeof NodeV8,
    workerThreads: workerThreads as typeof NodeWorkerThreads,
  });
  return current;
}
