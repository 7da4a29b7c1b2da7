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

  /**
   * Takes exactly [offset, offset + bytes) when it is free (inside one free range, or at or
   * above the top); whether it did. For layouts planned ahead (StepLayout).
   */
  allocAt(offset: number, bytes: number): boolean {
    if (offset < 0 || offset + bytes > this.limit) return false;
    if (offset >= this.end) {
      // Free ranges never touch the top, so the gap below `offset` is a range of its own.
      if (offset > this.end) {
        this.freeOffsets.push(this.end);
        this.freeSizes.push(offset - this.end);
      }
      this.end = offset + bytes;
      if (this.end > this.highWater) this.highWater = this.end;
      return true;
    }
    // The last free range starting at or below `offset` (binary search).
    let lo = 0;
    let hi = this.freeOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.freeOffsets[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    const at = lo - 1;
    if (at < 0) return false;
    const start = this.freeOffsets[at]!;
    const size = this.freeSizes[at]!;
    if (offset + bytes > start + size) return false;
    const below = offset - start;
    const above = start + size - (offset + bytes);
    const offsets: number[] = [];
    const sizes: number[] = [];
    if (below > 0) {
      offsets.push(start);
      sizes.push(below);
    }
    if (above > 0) {
      offsets.push(offset + bytes);
      sizes.push(above);
    }
    this.freeOffsets.splice(at, 1, ...offsets);
    this.freeSizes.splice(at, 1, ...sizes);
    return true;
  }

  /** Ranges in use, in address order, as [start, end) pairs. */
  usedRanges(): Array<[number, number]> {
    const used: Array<[number, number]> = [];
    let from = 0;
    for (let i = 0; i < this.freeOffsets.length; i++) {
      if (this.freeOffsets[i]! > from) used.push([from, this.freeOffsets[i]!]);
      from = this.freeOffsets[i]! + this.freeSizes[i]!;
    }
    if (this.end > from) used.push([from, this.end]);
    return used;
  }

  /** Free ranges below the top (for tests and stats). */
  freeRanges(): Array<{ offset: number; bytes: number }> {
    return this.freeOffsets.map((offset, i) => ({ offset, bytes: this.freeSizes[i]! }));
  }
}

/** One allocation of a recorded step: its size, and when (in the step's allocation events) it lived. */
interface StepBlock {
  bytes: number;
  born: number;
  /** When it was freed; -1 while alive (blocks that outlive the step are never planned). */
  died: number;
}

/** A planned allocation: its size and offset, or offset -1 where first fit places it. */
interface PlannedBlock {
  bytes: number;
  offset: number;
}

/** How far ahead in the plan an allocation looks for its size (steps may skip a few, e.g. the first step's optimizer state). */
const PLAN_WINDOW = 64;
/** Steps with more allocations than this are not planned (the plan costs O(n²) to make). */
const PLAN_MAX_BLOCKS = 4096;

/**
 * Offsets for blocks whose lifetimes are known, around `obstacles` (ranges in use all along):
 * the largest block first, each at the lowest offset clear of every block it lives alongside
 * ("greedy by size", as ahead-of-time memory planners do). For a training step this reaches
 * the live peak, where first fit (which cannot know lifetimes) leaves holes (BENCHMARKS.md).
 */
export function planOffsets(blocks: readonly StepBlock[], obstacles: ReadonlyArray<readonly [number, number]>): number[] {
  const order = blocks.map((_, i) => i).sort((a, b) => blocks[b]!.bytes - blocks[a]!.bytes || blocks[a]!.born - blocks[b]!.born);
  const offsets = new Array<number>(blocks.length).fill(-1);
  const placed: number[] = [];
  for (const i of order) {
    const block = blocks[i]!;
    const busy: Array<readonly [number, number]> = [...obstacles];
    for (const j of placed) {
      const other = blocks[j]!;
      if (other.born < block.died && block.born < other.died) busy.push([offsets[j]!, offsets[j]! + other.bytes]);
    }
    busy.sort((a, b) => a[0] - b[0]);
    let offset = 0;
    for (const [start, end] of busy) {
      if (start >= offset + block.bytes) break;
      if (end > offset) offset = end;
    }
    offsets[i] = offset;
    placed.push(i);
  }
  return offsets;
}

/**
 * Lays out a repeated computation's memory in one RangeAllocator. A training step allocates
 * the same sequence of blocks every time, and first fit, placing each block without knowing
 * when it dies, leaves holes that raise the top above the live peak. So each step's
 * allocations are recorded (size, birth, death) and, where the last step did not follow the
 * plan, a new plan is made from it (planOffsets) at the next beginStep(); later steps place
 * each allocation at its planned offset when the size matches and the range is free, else by
 * first fit (and the step is re-planned). Nothing is planned until beginStep() is called.
 */
export class StepLayout {
  private plan: PlannedBlock[] = [];
  private cursor = 0;
  private recording = false;
  private offPlan = false;
  private blocks: StepBlock[] = [];
  /** This step's recorded blocks still alive, by offset. */
  private readonly alive = new Map<number, StepBlock>();
  private clock = 0;

  constructor(private readonly range: RangeAllocator) {}

  beginStep(): void {
    if (this.recording && this.offPlan && this.blocks.length <= PLAN_MAX_BLOCKS) {
      // Blocks that outlived the step are in use now (obstacles); next time first fit places them.
      const inStep = this.blocks.filter((b) => b.died >= 0);
      const offsets = planOffsets(inStep, this.range.usedRanges());
      const planned = new Map(inStep.map((b, i) => [b, offsets[i]!]));
      this.plan = this.blocks.map((b) => ({ bytes: b.bytes, offset: planned.get(b) ?? -1 }));
    }
    this.recording = true;
    this.offPlan = false;
    this.cursor = 0;
    this.blocks = [];
    this.alive.clear();
    this.clock = 0;
  }

  /** Whether this is a step being recorded with no plan to follow yet (the first one). */
  get unplanned(): boolean {
    return this.recording && this.plan.length === 0;
  }

  /** The planned offset for the next allocation when it matches the plan and is free; else first fit (or null: no room). */
  alloc(bytes: number): number | null {
    let offset: number | null = null;
    if (this.recording) {
      const k = this.nextPlanned(bytes);
      if (k < 0) this.offPlan = true;
      else {
        this.cursor = k + 1;
        const planned = this.plan[k]!.offset;
        if (planned >= 0) {
          if (this.range.allocAt(planned, bytes)) offset = planned;
          else this.offPlan = true;
        }
      }
    }
    offset ??= this.range.alloc(bytes);
    if (offset !== null && this.recording) this.record(offset, bytes);
    return offset;
  }

  free(offset: number, bytes: number): void {
    this.range.free(offset, bytes);
    if (!this.recording) return;
    this.clock++;
    const block = this.alive.get(offset);
    if (block === undefined) return;
    block.died = this.clock;
    this.alive.delete(offset);
  }

  private nextPlanned(bytes: number): number {
    const end = Math.min(this.plan.length, this.cursor + PLAN_WINDOW);
    for (let k = this.cursor; k < end; k++) if (this.plan[k]!.bytes === bytes) return k;
    return -1;
  }

  private record(offset: number, bytes: number): void {
    this.clock++;
    if (this.blocks.length > PLAN_MAX_BLOCKS) return;
    const block = { bytes, born: this.clock, died: -1 };
    this.blocks.push(block);
    this.alive.set(offset, block);
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
  private readonly layout: StepLayout;
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
    this.layout = new StepLayout(this.range);
    this.buffers.add(memory.buffer);
  }

  /** Reserves raw bytes (never freed): per-thread scratch. */
  reserve(bytes: number): number {
    return this.place(Math.ceil(bytes / ALIGN) * ALIGN, false);
  }

  private place(bytes: number, planned: boolean): number {
    const offset = planned ? this.layout.alloc(bytes) : this.range.alloc(bytes);
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
    const offset = this.place(blockBytes(length), true);
    this.liveBlocks++;
    return new Float32Array(this.memory.buffer, offset, length);
  }

  free(data: Float32Array): void {
    if (!this.owns(data)) return;
    this.layout.free(data.byteOffset - this.base, blockBytes(data.length));
    this.liveBlocks--;
  }

  beginStep(): void {
    this.layout.beginStep();
  }

  /** Whether an array is a view into this memory (so its byteOffset is a pointer). */
  owns(data: Float32Array): boolean {
    return this.buffers.has(data.buffer);
  }

  stats(): { heapBytes: number; liveBlocks: number } {
    return { heapBytes: this.range.peak, liveBlocks: this.liveBlocks };
  }
}

/** The bytes one chunk of a ChunkedHeap spans unless told otherwise (the native backend asks for the machine's memory). */
const CHUNK_BYTES = 2 ** 32;
/** Blocks below this many bytes live in chunks of their own (see ChunkedHeap). */
const SMALL_BLOCK = 2 ** 20;
/** The span of a chunk for small and long-lived blocks (a larger block gets a chunk of its size). */
const APART_CHUNK_BYTES = 2 ** 28;

interface Chunk {
  buffer: ArrayBuffer;
  range: RangeAllocator;
  /** Only the first chunk of large blocks: where training steps' activations go, laid out by plan. */
  layout?: StepLayout;
}

/** Where a chunk's blocks are placed: its layout where it has one, else its range (same calls). */
const placer = (chunk: Chunk): RangeAllocator | StepLayout => chunk.layout ?? chunk.range;

/**
 * Tensor memory of the native backend: tensors are views into large ArrayBuffers ("chunks",
 * as large as the system lets one be reserved, up to the span asked for), placed by a
 * RangeAllocator per chunk; when no chunk has room, a new one is added, so the machine's
 * memory is the limit, not one 32-bit WebAssembly memory. A chunk
 * costs address space only: the system zero-fills its pages on first touch, so resident
 * memory is what the allocators' tops have reached (BENCHMARKS.md compares it with PyTorch's).
 * Blocks under 1 MiB (parameters, statistics, scalars) and long-lived ones (optimizer state,
 * created during the first step) get chunks of their own: mixed with the activations they
 * would pin islands between large freed ranges (at 256×256 this kept 6% more memory). The
 * first chunk of large blocks lays training steps out by plan (StepLayout).
 */
export class ChunkedHeap implements Allocator {
  private readonly apart: Chunk[] = [];
  private readonly large: Chunk[] = [];
  private liveBlocks = 0;

  /**
   * `chunkBytes`: the span of each chunk (a chunk as large as the machine's memory keeps a
   * training step's activations in the one planned range). `releasePages`: gives a freed
   * block's pages back to the system; used only while a training step is not yet planned.
   */
  constructor(
    readonly name: string,
    private readonly chunkBytes = CHUNK_BYTES,
    private readonly releasePages?: (view: Float32Array) => void,
  ) {}

  alloc(length: number, longLived = false): Float32Array {
    const bytes = blockBytes(length);
    const chunks = bytes < SMALL_BLOCK || longLived ? this.apart : this.large;
    for (const chunk of chunks) {
      const offset = placer(chunk).alloc(bytes);
      if (offset !== null) return this.view(chunk.buffer, offset, length);
    }
    // Only the activations' chunk needs the large span. The system charges every reserved span
    // to the process, and a process holding two spans the size of memory could not start a
    // child process (spawn failed with ENOMEM after a training step).
    const chunk = this.addChunk(chunks, bytes, chunks === this.apart ? Math.min(APART_CHUNK_BYTES, this.chunkBytes) : this.chunkBytes);
    return this.view(chunk.buffer, placer(chunk).alloc(bytes)!, length);
  }

  private view(buffer: ArrayBuffer, offset: number, length: number): Float32Array {
    this.liveBlocks++;
    return new Float32Array(buffer, offset, length);
  }

  /** A new chunk of `spanBytes` (or less, where the system will not reserve that much), at least `bytes`. */
  private addChunk(chunks: Chunk[], bytes: number, spanBytes: number): Chunk {
    for (let span = Math.max(spanBytes, bytes); span >= bytes; span = Math.max(bytes, Math.floor(span / 2 / ALIGN) * ALIGN)) {
      try {
        const range = new RangeAllocator(span);
        const chunk: Chunk = { buffer: new ArrayBuffer(span), range };
        if (chunks === this.large && chunks.length === 0) chunk.layout = new StepLayout(range);
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
    const chunk = this.large.find((c) => c.buffer === data.buffer) ?? this.apart.find((c) => c.buffer === data.buffer);
    if (chunk === undefined) return;
    // The first step has no plan yet, so first fit leaves holes; their pages go back to the
    // system then, or resident memory would keep that step's highest top for the whole run.
    // (Later steps keep their pages: giving them back on every step costs page faults.)
    if (chunk.layout?.unplanned === true) this.releasePages?.(data);
    placer(chunk).free(data.byteOffset, blockBytes(data.length));
    this.liveBlocks--;
  }

  beginStep(): void {
    this.large[0]?.layout?.beginStep();
  }

  /**
   * heapBytes: the chunks' highest tops — the memory they have touched, less what the first
   * step gave back (resident memory can be lower).
   */
  stats(): { heapBytes: number; liveBlocks: number; chunks: number } {
    const chunks = [...this.apart, ...this.large];
    return { heapBytes: chunks.reduce((sum, c) => sum + c.range.peak, 0), liveBlocks: this.liveBlocks, chunks: chunks.length };
  }
}
