import { setAllocator } from '../tensor/memory.js';
import type { Backend } from './backend.js';

/**
 * The backend is chosen once (the fastest available unless the user says otherwise) and
 * ops ask for it here; no op branches on which backend it is.
 */
const registered = new Map<string, () => Backend>();
const preparers = new Map<string, () => Promise<void>>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;
let requestedThreads: number | null = null;
const failures = new Map<string, string>();

const priorities = new Map<string, number>();

/**
 * Registers a backend under a name; `priority` order decides the default. `prepare`, if
 * given, is asynchronous set-up the factory may need first (fetching the wasm kernels in a
 * browser); `setBackendAsync` runs it.
 */
export function registerBackend(name: string, factory: () => Backend, priority = 0, prepare?: () => Promise<void>): void {
  registered.set(name, factory);
  priorities.set(name, priority);
  if (prepare === undefined) preparers.delete(name);
  else preparers.set(name, prepare);
}

export function listBackends(): string[] {
  return [...registered.keys()].sort((a, b) => (priorities.get(b) ?? 0) - (priorities.get(a) ?? 0));
}

/**
 * The registered backends that start here (fastest first): `native` is registered in Node
 * whether or not its addon was built, so this is the list to iterate over.
 */
export function availableBackends(): string[] {
  return listBackends().filter((name) => {
    if (instances.has(name)) return true;
    try {
      instances.set(name, registered.get(name)!());
      failures.delete(name);
      return true;
    } catch (error) {
      failures.set(name, error instanceof Error ? error.message : String(error));
      return false;
    }
  });
}

export function setBackend(name: string): Backend {
  const factory = registered.get(name);
  if (factory === undefined) {
    throw new Error(`setBackend: unknown backend '${name}'; available: ${listBackends().join(', ')}`);
  }
  let backend = instances.get(name);
  if (backend === undefined) {
    try {
      backend = factory();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures.set(name, reason);
      throw new Error(`setBackend: the '${name}' backend is not available here: ${reason}`, { cause: error });
    }
    instances.set(name, backend);
    failures.delete(name);
  }
  if (requestedThreads !== null) backend.setThreads?.(requestedThreads);
  current = backend;
  setAllocator(backend.allocator);
  return backend;
}

/**
 * `setBackend` for every platform: runs the backend's asynchronous set-up first (browsers
 * fetch and compile the wasm kernels) and resolves once it computes with all its threads.
 * Without a name, the fastest backend that starts here. In Node, `setBackend` alone does.
 */
export async function setBackendAsync(name?: string): Promise<Backend> {
  const start = async (candidate: string): Promise<Backend> => {
    try {
      await preparers.get(candidate)?.();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      failures.set(candidate, reason);
      throw new Error(`setBackendAsync: the '${candidate}' backend is not available here: ${reason}`, { cause: error });
    }
    return setBackend(candidate);
  };
  let backend: Backend | null = null;
  if (name !== undefined) {
    backend = await start(name);
  } else {
    for (const candidate of listBackends()) {
      try {
        backend = await start(candidate);
        break;
      } catch {
        // recorded in failures; try the next one
      }
    }
    if (backend === null) throw new Error(`setBackendAsync: no backend could start (${[...failures].map(([n, r]) => `${n}: ${r}`).join('; ')})`);
  }
  // A backend that started computes already; this waits for its worker threads (and says if one failed).
  await backend.ready?.();
  return backend;
}

/** The current backend; the first time, the fastest one that starts on this platform. */
export function getBackend(): Backend {
  if (current !== null) return current;
  for (const name of listBackends()) {
    try {
      return setBackend(name);
    } catch {
      // recorded in failures; try the next one
    }
  }
  throw new Error(`getBackend: no backend could start (${[...failures].map(([n, r]) => `${n}: ${r}`).join('; ')})`);
}

/** Why a backend could not start, if it tried and failed (for "which backend runs" messages). */
export function backendFailure(name: string): string | undefined {
  return failures.get(name);
}

/** Threads for backends with a pool (default: every core). Applies now and to backends started later. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: the thread count must be an integer ≥ 1, got ${n}`);
  requestedThreads = n;
  current?.setThreads?.(n);
}

export function getThreads(): number {
  return getBackend().threads ?? 1;
}

export function getBackendName(): string {
  return getBackend().name;
}
