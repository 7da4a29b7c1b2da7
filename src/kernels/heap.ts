import type { Allocator } from '../tensor/memory.js';

const PAGE = 65536;
/** Block alignment (a cache line; SIMD loads never straddle one block's start). */
const ALIGN = 64;
/** How much larger than asked a free buffer may be and still be handed out (BufferPool). */
const REUSE_SLACK = 2;

/**
 * Tensor memory inside one shared WebAssembly.Memory, used by the compiled backends (wasm
 * kernels address it by offset; the native addon reads the same arrays in place). Blocks are
 * 64-byte aligned; freed blocks are kept by exact size and reused first — a training step
 * allocates the same sizes every time, so after the first step the heap stops growing. Views
 * stay valid when the memory grows because a shared buffer is never detached.
 */
export class SharedHeap implements Allocator {
  private top: number;
  private readonly freeBySize = new Map<number, number[]>();
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private liveBlocks = 0;

  /**
   * `name` is the backend's, for messages; `base` is the first byte the heap may use (below it:
   * the wasm module's static data).
   */
  constructor(readonly name: string, readonly memory: WebAssembly.Memory, base: number) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
    this.buffers.add(memory.buffer);
  }

  /** Reserves raw bytes (never freed): per-thread scratch. */
  reserve(bytes: number): number {
    const offset = this.top;
    this.top += Math.ceil(bytes / ALIGN) * ALIGN;
    this.ensure(this.top);
    return offset;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      // Grow in larger steps so repeated small growth does not churn.
      this.memory.grow(Math.max(pages, Math.min(256, have / PAGE)));
    } catch {
      try {
        this.memory.grow(pages);
      } catch {
        const limit = (this.memory.buffer.byteLength / 2 ** 30).toFixed(1);
        throw new RangeError(
          `${this.name} backend: out of memory (tensors need ${(end / 2 ** 20).toFixed(0)} MiB; its shared WebAssembly memory holds at most 4 GiB, ${limit} GiB in use) — use a smaller batch or model`,
        );
      }
    }
    this.buffers.add(this.memory.buffer);
  }

  alloc(length: number): Float32Array {
    const bytes = Math.max(ALIGN, Math.ceil((length * 4) / ALIGN) * ALIGN);
    const reuse = this.freeBySize.get(bytes);
    let offset = reuse?.pop();
    if (offset === undefined) {
      offset = this.top;
      this.top += bytes;
      // One spare block past the top: SIMD kernels may read (never use) a few bytes past an array's end.
      this.ensure(this.top + ALIGN);
    }
    this.liveBlocks++;
    return new Float32Array(this.memory.buffer, offset, length);
  }

  free(data: Float32Array): void {
    if (!this.owns(data)) return;
    const bytes = Math.max(ALIGN, Math.ceil((data.length * 4) / ALIGN) * ALIGN);
    let list = this.freeBySize.get(bytes);
    if (list === undefined) {
      list = [];
      this.freeBySize.set(bytes, list);
    }
    list.push(data.byteOffset);
    this.liveBlocks--;
  }

  /** Whether an array is a view into this memory (so its byteOffset is a pointer). */
  owns(data: Float32Array): boolean {
    return this.buffers.has(data.buffer);
  }

  stats(): { heapBytes: number; liveBlocks: number } {
    return { heapBytes: this.top, liveBlocks: this.liveBlocks };
  }
}

/**
 * Tensor memory of the native backend: each tensor its own ArrayBuffer, so the machine's
 * memory is the limit (not one 32-bit WebAssembly memory's 4 GiB). Freed buffers are kept by
 * size (rounded up to 64 bytes) and reused first — one of the same size, else the smallest up
 * to 2× as large: a training step allocates the same sizes every time, so after the first
 * step nothing new is allocated.
 */
export class BufferPool implements Allocator {
  private readonly freeBySize = new Map<number, ArrayBuffer[]>();
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private liveBlocks = 0;
  private pooledBytes = 0;

  constructor(readonly name: string) {}

  alloc(length: number): Float32Array {
    const bytes = Math.max(ALIGN, Math.ceil((length * 4) / ALIGN) * ALIGN);
    let buffer = this.freeBySize.get(bytes)?.pop() ?? this.takeLarger(bytes);
    if (buffer === undefined) {
      try {
        buffer = new ArrayBuffer(bytes);
      } catch {
        throw new RangeError(
          `${this.name} backend: out of memory (a tensor of ${(bytes / 2 ** 20).toFixed(0)} MiB could not be allocated; ${(this.pooledBytes / 2 ** 20).toFixed(0)} MiB of tensors in use) — use a smaller batch or model`,
        );
      }
      this.buffers.add(buffer);
      this.pooledBytes += bytes;
    }
    this.liveBlocks++;
    return new Float32Array(buffer, 0, length);
  }

  /**
   * The smallest free buffer of up to REUSE_SLACK × `bytes` (null if none). Sizes whose peaks
   * fall at different moments of a step (G's, D's, the gradients') then share buffers instead
   * of each keeping its own (BENCHMARKS.md has what exact-size reuse alone held).
   */
  private takeLarger(bytes: number): ArrayBuffer | undefined {
    let best: number | null = null;
    for (const [size, list] of this.freeBySize) {
      if (list.length > 0 && size > bytes && size <= bytes * REUSE_SLACK && (best === null || size < best)) best = size;
    }
    return best === null ? undefined : this.freeBySize.get(best)!.pop();
  }

  free(data: Float32Array): void {
    const buffer = data.buffer;
    if (!this.buffers.has(buffer)) return;
    let list = this.freeBySize.get(buffer.byteLength);
    if (list === undefined) {
      list = [];
      this.freeBySize.set(buffer.byteLength, list);
    }
    list.push(buffer as ArrayBuffer);
    this.liveBlocks--;
  }

  /** heapBytes: every buffer the pool holds, in use or free (it never gives memory back). */
  stats(): { heapBytes: number; liveBlocks: number } {
    return { heapBytes: this.pooledBytes, liveBlocks: this.liveBlocks };
  }
}
