import type { Allocator } from '../../tensor/memory.js';

const PAGE = 65536;
/** Bytes below this belong to the module's static data and the threads' scratch. */
const ALIGN = 64;

/**
 * Tensor memory inside the shared WebAssembly.Memory. Blocks are 64-byte aligned; freed
 * blocks are kept by exact size and reused first — a training step allocates the same sizes
 * every time, so after the first step the heap stops growing. Views stay valid when the
 * memory grows because a shared buffer is never detached.
 */
export class WasmHeap implements Allocator {
  readonly name = 'wasm';
  private top: number;
  private readonly freeBySize = new Map<number, number[]>();
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private liveBlocks = 0;

  constructor(readonly memory: WebAssembly.Memory, base: number) {
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
        throw new RangeError(`wasm backend: out of memory (needed ${(end / 2 ** 20).toFixed(0)} MiB of WebAssembly memory)`);
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
