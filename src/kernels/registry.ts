import { setAllocator } from '../tensor/memory.js';
import type { Backend } from './backend.js';

/**
 * The backend is chosen once (the fastest available unless the user says otherwise) and
 * ops ask for it here; no op branches on which backend it is.
 */
const registered = new Map<string, () => Backend>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;

/** Registers a backend under a name; `priority` order decides the default. */
const priorities = new Map<string, number>();

export function registerBackend(name: string, factory: () => Backend, priority = 0): void {
  registered.set(name, factory);
  priorities.set(name, priority);
}

export function listBackends(): string[] {
  return [...registered.keys()].sort((a, b) => (priorities.get(b) ?? 0) - (priorities.get(a) ?? 0));
}

export function setBackend(name: string): Backend {
  const factory = registered.get(name);
  if (factory === undefined) {
    throw new Error(`setBackend: unknown backend '${name}'; available: ${listBackends().join(', ')}`);
  }
  let backend = instances.get(name);
  if (backend === undefined) {
    backend = factory();
    instances.set(name, backend);
  }
  current = backend;
  setAllocator(backend.allocator);
  return backend;
}

export function getBackend(): Backend {
  if (current === null) {
    const [best] = listBackends();
    if (best === undefined) throw new Error('getBackend: no backend is registered');
    return setBackend(best);
  }
  return current;
}

export function getBackendName(): string {
  return getBackend().name;
}
