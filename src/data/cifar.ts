/**
 * CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html, cifar-10-binary.tar.gz):
 * data_batch_1.bin … data_batch_5.bin, each 10000 records of 1 label byte followed by 3072
 * pixel bytes — the 32×32 red plane, then green, then blue, rows top to bottom. The training
 * batches found are kept in memory (150 MB for all five) and resized / converted on read.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  byteToSigned,
  checkChannels,
  checkImageSize,
  checkLabelIndex,
  checkRead,
  CIFAR10_CLASSES,
  DatasetError,
  type DatasetSplit,
  LUMA_B,
  LUMA_G,
  LUMA_R,
  type ImageDataset,
} from './common.js';
import { SquareResizer } from './resize.js';

export const CIFAR_SIDE = 32;
export const CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + 3 * CIFAR_PLANE;
export const CIFAR_BATCH_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_SUBFOLDER = 'cifar-10-batches-bin';
/** The held-out test batch (10000 images). */
export const CIFAR_TEST_FILE = 'test_batch.bin';

export interface CifarOpenOptions {
  imageSize: number;
  channels: 1 | 3;
  root?: string;
  /** 'train' (default: data_batch_1…5.bin) or 'test' (test_batch.bin). */
  split?: DatasetSplit;
  onWarning?: (message: string) => void;
}

export class Cifar10Dataset implements ImageDataset {
  readonly name = 'cifar10';
  readonly classes: readonly string[] = CIFAR10_CLASSES;
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  private readonly resizer: SquareResizer;
  private readonly gray = new Float64Array(CIFAR_PLANE);
  private readonly plane: Float64Array;

  /** `pixels`: N×3072 bytes (R, G, B planes per image); `labels`: N class indices (0–9). */
  constructor(
    private readonly pixels: Uint8Array,
    readonly labels: Uint8Array,
    options: { imageSize: number; channels: 1 | 3 },
    /** The batch files the images came from. */
    readonly files: readonly string[] = [],
  ) {
    this.imageSize = checkImageSize(options.imageSize);
    this.channels = checkChannels(options.channels);
    if (pixels.length % (3 * CIFAR_PLANE) !== 0 || pixels.length / (3 * CIFAR_PLANE) !== labels.length) {
      throw new RangeError(`cifar10: ${pixels.length} pixel bytes do not make ${labels.length} 32×32 RGB images`);
    }
    this.length = labels.length;
    this.resizer = new SquareResizer(CIFAR_SIDE, CIFAR_SIDE, this.imageSize);
    this.plane = new Float64Array(this.imageSize * this.imageSize);
  }

  label(index: number): number {
    checkLabelIndex(this, index);
    return this.labels[index]!;
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    const base = index * 3 * CIFAR_PLANE;
    const n = this.plane.length;
    if (this.channels === 1) {
      const px = this.pixels;
      for (let i = 0; i < CIFAR_PLANE; i++) {
        this.gray[i] = LUMA_R * px[base + i]! + LUMA_G * px[base + CIFAR_PLANE + i]! + LUMA_B * px[base + 2 * CIFAR_PLANE + i]!;
      }
      this.resizer.resize(this.gray, 0, 1, CIFAR_SIDE, this.plane, 0);
      for (let i = 0; i < n; i++) out[offset + i] = byteToSigned(this.plane[i]!);
      return;
    }
    for (let c = 0; c < 3; c++) {
      this.resizer.resize(this.pixels, base + c * CIFAR_PLANE, 1, CIFAR_SIDE, this.plane, 0);
      const o = offset + c * n;
      for (let i = 0; i < n; i++) out[o + i] = byteToSigned(this.plane[i]!);
    }
  }
}

async function exists(path: string, kind: 'file' | 'dir'): Promise<boolean> {
  try {
    const s = await stat(path);
    return kind === 'file' ? s.isFile() : s.isDirectory();
  } catch {
    return false;
  }
}

/** Splits binary batch files' records into one pixel array and one label array. */
export function parseCifarBatches(buffers: readonly Uint8Array[], names: readonly string[] = []): { pixels: Uint8Array; labels: Uint8Array } {
  let records = 0;
  buffers.forEach((b, i) => {
    if (b.length === 0 || b.length % CIFAR_RECORD !== 0) {
      throw new DatasetError(
        `cifar10: ${names[i] ?? `batch ${i + 1}`} is not a CIFAR-10 binary batch (${b.length} bytes is not a multiple of the ${CIFAR_RECORD}-byte record)`,
      );
    }
    records += b.length / CIFAR_RECORD;
  });
  const pixels = new Uint8Array(records * 3 * CIFAR_PLANE);
  const labels = new Uint8Array(records);
  let r = 0;
  for (const b of buffers) {
    for (let at = 0; at < b.length; at += CIFAR_RECORD, r++) {
      labels[r] = b[at]!;
      pixels.set(b.subarray(at + 1, at + CIFAR_RECORD), r * 3 * CIFAR_PLANE);
    }
  }
  return { pixels, labels };
}

/** Opens the CIFAR-10 training batches from `root` or `root/cifar-10-batches-bin`. */
export async function openCifar10(options: CifarOpenOptions): Promise<Cifar10Dataset> {
  checkImageSize(options.imageSize);
  checkChannels(options.channels);
  const howToGet =
    `download the binary version (cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, ` +
    `extract it and pass --data-root DIR (the folder holding ${CIFAR_SUBFOLDER}/ or data_batch_1.bin … data_batch_5.bin)`;
  const root = options.root;
  if (root === undefined) throw new DatasetError(`cifar10: no data directory given; ${howToGet}`);
  if (!(await exists(root, 'dir'))) throw new DatasetError(`cifar10: directory ${root} not found; ${howToGet}`);
  let dir: string | null = null;
  let found: string[] = [];
  if (options.split === 'test') {
    for (const candidate of [root, join(root, CIFAR_SUBFOLDER)]) {
      if (await exists(join(candidate, CIFAR_TEST_FILE), 'file')) {
        const path = join(candidate, CIFAR_TEST_FILE);
        let bytes: Uint8Array;
        try {
          bytes = await readFile(path);
        } catch (error) {
          throw new DatasetError(`cifar10: cannot read ${path}: ${(error as Error).message}`);
        }
        const { pixels, labels } = parseCifarBatches([bytes], [path]);
        return new Cifar10Dataset(pixels, labels, options, [path]);
      }
    }
    throw new DatasetError(`cifar10: no ${CIFAR_TEST_FILE} in ${root} (nor in ${join(root, CIFAR_SUBFOLDER)}); ${howToGet}`);
  }
  for (const candidate of [root, join(root, CIFAR_SUBFOLDER)]) {
    const present: string[] = [];
    for (const f of CIFAR_BATCH_FILES) if (await exists(join(candidate, f), 'file')) present.push(f);
    if (present.length > found.length) {
      dir = candidate;
      found = present;
    }
  }
  if (dir === null) {
    throw new DatasetError(`cifar10: no data_batch_1.bin … data_batch_5.bin in ${root} (nor in ${join(root, CIFAR_SUBFOLDER)}); ${howToGet}`);
  }
  if (found.length < CIFAR_BATCH_FILES.length) {
    const missing = CIFAR_BATCH_FILES.filter((f) => !found.includes(f));
    options.onWarning?.(`cifar10: using ${found.length} of ${CIFAR_BATCH_FILES.length} training batches from ${dir} (missing ${missing.join(', ')})`);
  }
  const paths = found.map((f) => join(dir, f));
  const buffers = await Promise.all(
    paths.map(async (p) => {
      try {
        return await readFile(p);
      } catch (error) {
        throw new DatasetError(`cifar10: cannot read ${p}: ${(error as Error).message}`);
      }
    }),
  );
  const { pixels, labels } = parseCifarBatches(buffers, paths);
  return new Cifar10Dataset(pixels, labels, options, paths);
}
