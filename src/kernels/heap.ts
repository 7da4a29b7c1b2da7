import type { Allocator } from '../tensor/memory.js';

const PAGE = 65536;
/** Block alignment (a cache line; SIMD loads never straddle one block's start). */
const ALIGN = 64;
/** A tensor's bytes, rounded up to whole aligned blocks. */
const blockBytes = (length: number): number => Math.max(ALIGN, Math.ceil((length * 4) / ALIGN) * ALIGN);

/**
 * Offsets within one address range of at most `limit` bytes: the lowest free range that fits
 * is used (address-ordered first fit), a freed range merges with its free neighbours, and the
 * top rises only when no free range fits. Unlike free lists kept per size, memory freed by
 * tensors of one size serves tensors of any other: a training step's G, D and gradient
 * activations peak at different moments and share one space (BENCHMARKS.md has what this
 * saves). Free ranges are few (tens), so a linear scan is cheap next to any kernel.
 */
export class RangeAllocator {
  /** Free ranges below the top, in address order. */
  private readonly freeOffsets: number[] = [];
  private readonly freeSizes: number[] = [];
  private end = 0;
  private highWater = 0;

  constructor(readonly limit: number) {}

  /** The end of the highest range in use. */
  get top(): number {
    return this.end;
  }

  /** The highest the top has been: the bytes ever touched. */
  get peak(): number {
    return this.highWater;
  }

  /** The offset of `bytes` free bytes, or null when they do not fit below the limit. */
  alloc(bytes: number): number | null {
    for (let i = 0; i < this.freeSizes.length; i++) {
      const size = this.freeSizes[i]!;
      if (size < bytes) continue;
      const offset = this.freeOffsets[i]!;
      if (size === bytes) {
        this.freeOffsets.splice(i, 1);
        this.freeSizes.splice(i, 1);
      } else {
        this.freeOffsets[i] = offset + bytes;
        this.freeSizes[i] = size - bytes;
      }
      return offset;
    }
    if (this.end + bytes > this.limit) return null;
    const offset = this.end;
    this.end += bytes;
    if (this.end > this.highWater) this.highWater = this.end;
    return offset;
  }

  free(offset: number, bytes: number): void {
    // The first free range above `offset` (binary search).
    let lo = 0;
    let hi = this.freeOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.freeOffsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    let start = offset;
    let size = bytes;
    let at = lo;
    if (at > 0 && this.freeOffsets[at - 1]! + this.freeSizes[at - 1]! === start) {
      at--;
      start = this.freeOffsets[at]!;
      size += this.freeSizes[at]!;
      this.freeOffsets.splice(at, 1);
      this.freeSizes.splice(at, 1);
    }
    if (at < this.freeOffsets.length && this.freeOffsets[at] === start + size) {
      size += this.freeSizes[at]!;
      this.freeOffsets.splice(at, 1);
      this.freeSizes.splice(at, 1);
    }
    if (start + size === this.end) {
      this.end = start; // the top comes down instead of keeping a free range at the top
      return;
    }
    this.freeOffsets.splice(at, 0, start);
    this.freeSizes.splice(at, 0, size);
  }

  /** Free ranges below the top (for tests and stats). */
  freeRanges(): Array<{ offset: number; bytes: number }> {
    return this.freeOffsets.map((offset, i) => ({ offset, bytes: this.freeSizes[i]! }));
  }
}

/**
 * Tensor memory inside one shared WebAssembly.Memory, used by the wasm backend (its kernels
 * address it by offset). Blocks are 64-byte aligned and placed by a RangeAllocator; the memory
 * grows with the allocator's top. Views stay valid when the memory grows because a shared
 * buffer is never detached.
 */
export class SharedHeap implements Allocator {
  private readonly range: RangeAllocator;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private liveBlocks = 0;

  /**
   * `name` is the backend's, for messages; `base` is the first byte the heap may use (below it:
   * the wasm module's static data).
   */
  private readonly base: number;

  constructor(readonly name: string, readonly memory: WebAssembly.Memory, base: number) {
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    // 4 GiB is a 32-bit WebAssembly memory's most; one block is kept spare past the top.
    this.range = new RangeAllocator(2 ** 32 - this.base - ALIGN);
    this.buffers.add(memory.buffer);
  }

  /** Reserves raw bytes (never freed): per-thread scratch. */
  reserve(bytes: number): number {
    return this.place(Math.ceil(bytes / ALIGN) * ALIGN);
  }

  private place(bytes: number): number {
    const offset = this.range.alloc(bytes);
    if (offset === null) throw this.outOfMemory(this.range.top + bytes);
    // One spare block past the top: SIMD kernels may read (never use) a few bytes past an array's end.
    this.ensure(this.base + this.range.top + ALIGN);
    return this.base + offset;
  }

  private outOfMemory(needed: number): RangeError {
    const inUse = (this.memory.buffer.byteLength / 2 ** 30).toFixed(1);
    return new RangeError(
      `${this.name} backend: out of memory (tensors need ${(needed / 2 ** 20).toFixed(0)} MiB; its shared WebAssembly memory holds at most 4 GiB, ${inUse} GiB in use) — use a smaller batch or model, or the native backend in Node (--backend native), which has no such limit`,
    );
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
        throw this.outOfMemory(end - this.base);
      }
    }
    this.buffers.add(this.memory.buffer);
  }

  alloc(length: number): Float32Array {
    const offset = this.place(blockBytes(length));
    this.liveBlocks++;
    return new Float32Array(this.memory.buffer, offset, length);
  }

  free(data: Float32Array): void {
    if (!this.owns(data)) return;
    this.range.free(data.byteOffset - this.base, blockBytes(data.length));
    this.liveBlocks--;
  }

  /** Whether an array is a view into this memory (so its byteOffset is a pointer). */
  owns(data: Float32Array): boolean {
    return this.buffers.has(data.buffer);
  }

  stats(): { heapBytes: number; liveBlocks: number } {
    return { heapBytes: this.range.peak, liveBlocks: this.liveBlocks };
  }
}

/** The most bytes one chunk of a ChunkedHeap spans (typed arrays and Node's buffers stop at 4 GiB). */
const CHUNK_BYTES = 2 ** 32;
/** Blocks below this many bytes live in chunks of their own (see ChunkedHeap). */
const SMALL_BLOCK = 2 ** 20;

interface Chunk {
  buffer: ArrayBuffer;
  range: RangeAllocator;
}

/**
 * Tensor memory of the native backend: tensors are views into large ArrayBuffers ("chunks",
 * up to 4 GiB each), placed by a RangeAllocator per chunk; when no chunk has room, a new one
 * is added, so the machine's memory is the limit, not one 32-bit WebAssembly memory. A chunk
 * costs address space only: the system zero-fills its pages on first touch, so resident
 * memory is what the allocators' tops have reached (BENCHMARKS.md compares it with PyTorch's).
 * Blocks under 1 MiB (parameters, statistics, scalars) get chunks of their own: mixed with the
 * activations they would pin small islands between large freed ranges (at 256×256 this kept
 * 6% more memory).
 */
export class ChunkedHeap implements Allocator {
  private readonly small: Chunk[] = [];
  private readonly large: Chunk[] = [];
  private liveBlocks = 0;

  /** `chunkBytes`: the span of each chunk (smaller in tests). */
  constructor(readonly name: string, private readonly chunkBytes = CHUNK_BYTES) {}

  alloc(length: number): Float32Array {
    const bytes = blockBytes(length);
    const chunks = bytes < SMALL_BLOCK ? this.small : this.large;
    for (const chunk of chunks) {
      const offset = chunk.range.alloc(bytes);
      if (offset !== null) return this.view(chunk.buffer, offset, length);
    }
    const chunk = this.addChunk(chunks, bytes);
    return this.view(chunk.buffer, chunk.range.alloc(bytes)!, length);
  }

  private view(buffer: ArrayBuffer, offset: number, length: number): Float32Array {
    this.liveBlocks++;
    return new Float32Array(buffer, offset, length);
  }

  /** A new chunk of the usual span (or less, where the system will not reserve that much), at least `bytes`. */
  private addChunk(chunks: Chunk[], bytes: number): Chunk {
    for (let span = Math.max(this.chunkBytes, bytes); span >= bytes; span = Math.max(bytes, Math.floor(span / 2 / ALIGN) * ALIGN)) {
      try {
        const chunk = { buffer: new ArrayBuffer(span), range: new RangeAllocator(span) };
        chunks.push(chunk);
        return chunk;
      } catch {
        if (span === bytes) break;
      }
    }
    const held = this.stats().heapBytes / 2 ** 20;
    throw new RangeError(
      `${this.name} backend: out of memory (a tensor of ${(bytes / 2 ** 20).toFixed(0)} MiB could not be allocated; ${held.toFixed(0)} MiB of tensor memory in use) — use a smaller batch or model`,
    );
  }

  free(data: Float32Array): void {
    const chunk = this.large.find((c) => c.buffer === data.buffer) ?? this.small.find((c) => c.buffer === data.buffer);
    if (chunk === undefined) return;
    chunk.range.free(data.byteOffset, blockBytes(data.length));
    this.liveBlocks--;
  }

  /** heapBytes: the memory the chunks have touched (their allocators' highest tops). */
  stats(): { heapBytes: number; liveBlocks: number; chunks: number } {
    const chunks = [...this.small, ...this.large];
    return { heapBytes: chunks.reduce((sum, c) => sum + c.range.peak, 0), liveBlocks: this.liveBlocks, chunks: chunks.length };
  }
}
