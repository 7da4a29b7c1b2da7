/**
 * Where tensor data lives. A backend installs its allocator (the wasm backend hands out
 * views into its own memory), so tensors never care which backend made them. Every
 * allocation and release is counted: `memory()` lets tests prove that training does not grow.
 */

export interface Allocator {
  readonly name: string;
  /** `longLived`: the tensor will outlive many steps (optimizer state); an allocator may keep it apart. */
  alloc(length: number, longLived?: boolean): Float32Array;
  free(data: Float32Array): void;
  /** heapBytes: memory the allocator holds for tensors, in use or kept for reuse (where it keeps any). */
  stats?(): { heapBytes: number; liveBlocks: number };
  /** A repeated computation's next round begins (see beginStep). */
  beginStep?(): void;
}

export const heapAllocator: Allocator = {
  name: 'heap',
  alloc: (length) => new Float32Array(length),
  free: () => {},
};

let current: Allocator = heapAllocator;
let allocatingLongLived = false;
let liveStorages = 0;
let liveBytes = 0;
let peakBytes = 0;

export function setAllocator(allocator: Allocator): void {
  current = allocator;
}

export function getAllocator(): Allocator {
  return current;
}

/**
 * Marks the start of one round of a computation that repeats the same allocations (a training
 * step). Allocators that plan their layout (the wasm and native heaps) place the next round's
 * tensors as the last round's lifetimes allow, so memory does not fragment; others ignore it.
 */
export function beginStep(): void {
  current.beginStep?.();
}

/**
 * Runs `fn` with its tensors allocated as long-lived: state created in the middle of a step
 * that lives on for the whole run (an optimizer's moments). The native heap keeps such blocks
 * apart from the step's activations, where they would pin holes for good.
 */
export function longLived<T>(fn: () => T): T {
  const previous = allocatingLongLived;
  allocatingLongLived = true;
  try {
    return fn();
  } finally {
    allocatingLongLived = previous;
  }
}

/** Reference-counted tensor data; views (reshape, detach) share one Storage. */
export class Storage {
  private buffer: Float32Array | null;
  private refs = 1;
  readonly allocator: Allocator;

  constructor(data: Float32Array, allocator: Allocator) {
    this.buffer = data;
    this.allocator = allocator;
    liveStorages++;
    liveBytes += data.byteLength;
    if (liveBytes > peakBytes) peakBytes = liveBytes;
  }

  static allocate(length: number): Storage {
    return new Storage(current.alloc(length, allocatingLongLived), current);
  }

  get data(): Float32Array {
    if (this.buffer === null) throw new Error('Tensor data was used after dispose()');
    return this.buffer;
  }

  get released(): boolean {
    return this.buffer === null;
  }

  /** Whether more than one tensor (views) holds it. */
  get shared(): boolean {
    return this.refs > 1;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (this.buffer === null) return;
    if (--this.refs > 0) return;
    liveStorages--;
    liveBytes -= this.buffer.byteLength;
    this.allocator.free(this.buffer);
    this.buffer = null;
  }
}

export interface MemoryInfo {
  /** Storages alive (tensor views share one). */
  numStorages: number;
  /** Bytes of tensor data alive. */
  numBytes: number;
  /** Tensor objects alive (not yet disposed). */
  numTensors: number;
  /** The most bytes of tensor data alive at once since the start or the last resetPeakMemory(). */
  peakBytes: number;
}

let liveTensors = 0;

export function trackTensor(delta: 1 | -1): void {
  liveTensors += delta;
}

export function memory(): MemoryInfo {
  return { numStorages: liveStorages, numBytes: liveBytes, numTensors: liveTensors, peakBytes };
}

/** Starts a new peak measurement at what is alive now (e.g. before a phase to be measured). */
export function resetPeakMemory(): void {
  peakBytes = liveBytes;
}
