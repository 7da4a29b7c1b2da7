/**
 * Batches from an ImageDataset, epoch after epoch, in a seeded order.
 *
 * The order of epoch e is a Fisher–Yates shuffle driven by a Generator seeded with a hash of
 * (seed, e), so a position {epoch, batchIndex, seed} is all it takes to resume the exact same
 * data order — no RNG state to store. Reads are synchronous: the folder dataset decodes up
 * front and the others are cheap to read (IDX/CIFAR resize, shapes render), so a batch is
 * simply filled on demand. (A same-thread prefetch would only move that work, not overlap it.)
 */
import '../kernels/index.js'; // registers the backends, so batches can be allocated when only src/data is imported
import { empty } from '../ops/create.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { DatasetError, mixSeed, type ImageDataset } from './common.js';

export interface LoaderState {
  epoch: number;
  batchIndex: number;
  seed: number;
}

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true); false reads 0, 1, 2, … every epoch. */
  shuffle?: boolean;
  /** Seed of the shuffles (default 0). */
  seed?: number;
  /** Drop the last, partial batch of each epoch (default true). */
  dropLast?: boolean;
}

export interface Batch {
  /** [B, C, H, W] in [−1, 1], a fresh tensor owned by the caller. */
  images: Tensor;
  epoch: number;
  batchIndex: number;
  /** The data set indices of its images (for their labels). */
  indices: number[];
}

/** The order of the indices 0 … length−1 in epoch `epoch`: a seeded Fisher–Yates shuffle. */
export function epochPermutation(length: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  const rng = new Generator(mixSeed(seed, epoch));
  for (let i = length - 1; i > 0; i--) {
    const j = uniformInt(rng, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** An unbiased integer in [0, n) for n ≤ 2³² (rejection sampling on 32-bit draws). */
function uniformInt(rng: Generator, n: number): number {
  const limit = 4294967296 - (4294967296 % n);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % n;
  }
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly batchesPerEpoch: number;
  private seed: number;
  private epoch = 0;
  private batchIndex = 0;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;

  constructor(
    readonly dataset: ImageDataset,
    options: DataLoaderOptions,
  ) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DatasetError(`batch size must be a positive integer, got ${String(batchSize)}`);
    }
    if (batchSize > dataset.length) {
      throw new DatasetError(
        `batch size ${batchSize} is larger than the dataset ${dataset.name} (${dataset.length} image${dataset.length === 1 ? '' : 's'})`,
      );
    }
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new DatasetError(`loader seed must be a finite number, got ${String(seed)}`);
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? true;
    this.seed = seed;
    this.batchesPerEpoch = this.dropLast ? Math.floor(dataset.length / batchSize) : Math.ceil(dataset.length / batchSize);
  }

  /** The index order of an epoch (a copy is not made: do not modify). */
  private orderFor(epoch: number): Uint32Array | null {
    if (!this.shuffle) return null;
    if (this.orderEpoch !== epoch || this.order === null) {
      this.order = epochPermutation(this.dataset.length, this.seed, epoch);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The dataset indices of batch `batchIndex` of epoch `epoch`. */
  indices(epoch: number, batchIndex: number): number[] {
    const n = this.dataset.length;
    const from = batchIndex * this.batchSize;
    const to = Math.min(from + this.batchSize, n);
    const order = this.orderFor(epoch);
    const out: number[] = [];
    for (let p = from; p < to; p++) out.push(order === null ? p : order[p]!);
    return out;
  }

  /** The next batch as a fresh [B, C, H, W] tensor; advances across epochs forever. */
  next(): Batch {
    if (this.batchIndex >= this.batchesPerEpoch) {
      this.epoch++;
      this.batchIndex = 0;
    }
    const { epoch, batchIndex } = this;
    const ids = this.indices(epoch, batchIndex);
    const { channels, imageSize } = this.dataset;
    const per = channels * imageSize * imageSize;
    const images = empty([ids.length, channels, imageSize, imageSize]);
    const data = images.data;
    ids.forEach((id, k) => this.dataset.read(id, data, k * per));
    this.batchIndex++;
    return { images, epoch, batchIndex, indices: ids };
  }

  /** The position of the next batch: restore() it (on a loader over the same dataset) to continue identically. */
  state(): LoaderState {
    let { epoch, batchIndex } = this;
    if (batchIndex >= this.batchesPerEpoch) {
      epoch++;
      batchIndex = 0;
    }
    return { epoch, batchIndex, seed: this.seed };
  }

  restore(state: LoaderState): void {
    const { epoch, batchIndex, seed } = state;
    if (!Number.isInteger(epoch) || epoch < 0) throw new DatasetError(`loader state: epoch must be a non-negative integer, got ${String(epoch)}`);
    if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex > this.batchesPerEpoch) {
      throw new DatasetError(
        `loader state: batchIndex ${String(batchIndex)} is outside 0..${this.batchesPerEpoch} (batches per epoch of this dataset and batch size)`,
      );
    }
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new DatasetError(`loader state: seed must be a finite number, got ${String(seed)}`);
    if (seed !== this.seed) {
      this.seed = seed;
      this.order = null;
    }
    this.epoch = epoch;
    this.batchIndex = batchIndex;
  }
}
