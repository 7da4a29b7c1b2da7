/**
 * What every dataset shares: the ImageDataset interface, DatasetError, option checks and the
 * byte ↔ [-1, 1] mapping. Kept apart from dataset.ts (which re-exports it) so the dataset
 * modules can import it without a circular import through openDataset.
 */

export interface ImageDataset {
  /** e.g. 'shapes', 'fashion-mnist', or the folder path. */
  readonly name: string;
  /** Number of images. */
  readonly length: number;
  readonly channels: 1 | 3;
  /** Side of the square images. */
  readonly imageSize: number;
  /** Writes image `index` as CHW float32 in [-1, 1] into out[offset .. offset + channels*imageSize*imageSize). */
  read(index: number, out: Float32Array, offset?: number): void;
  /** Class names, for data sets with labels (label(i) indexes into them). */
  readonly classes?: readonly string[];
  /** The class of image `index` (an index into `classes`), for data sets with labels. */
  label?(index: number): number;
}

/** A data set whose images carry class labels. */
export interface LabelledDataset extends ImageDataset {
  readonly classes: readonly string[];
  label(index: number): number;
}

/** Whether `dataset` has class labels (its `classes` and `label`). */
export function hasLabels(dataset: ImageDataset): dataset is LabelledDataset {
  return Array.isArray(dataset.classes) && dataset.classes.length > 0 && typeof dataset.label === 'function';
}

/** Which part of a data set: the training images (default) or the held-out test images. */
export type DatasetSplit = 'train' | 'test';

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Checks a label index against a data set's length (shared by the label() methods). */
export function checkLabelIndex(dataset: ImageDataset, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= dataset.length) {
    throw new RangeError(`${dataset.name}: image index ${index} is out of range [0, ${dataset.length})`);
  }
}

/** A user-facing data problem (missing files, bad format, bad option); the message is one clear line. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** ITU-R BT.601 luma weights (R, G, B). */
export const LUMA_R = 0.299;
export const LUMA_G = 0.587;
export const LUMA_B = 0.114;

export function luma(r: number, g: number, b: number): number {
  return LUMA_R * r + LUMA_G * g + LUMA_B * b;
}

/** Maps a byte-scale value (0..255) to [-1, 1]: 0 → −1, 255 → 1, clamped against rounding. */
export function byteToSigned(v: number): number {
  const s = v / 127.5 - 1;
  return s < -1 ? -1 : s > 1 ? 1 : s;
}

export function checkImageSize(imageSize: unknown): number {
  if (typeof imageSize !== 'number' || !Number.isInteger(imageSize) || imageSize < 1) {
    throw new DatasetError(`imageSize must be a positive integer, got ${String(imageSize)}`);
  }
  return imageSize;
}

export function checkChannels(channels: unknown): 1 | 3 {
  if (channels !== 1 && channels !== 3) {
    throw new DatasetError(`channels must be 1 or 3, got ${String(channels)}`);
  }
  return channels;
}

/** Bounds checks shared by every read(): a valid index and room for one image at `offset`. */
export function checkRead(dataset: ImageDataset, index: number, out: Float32Array, offset: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= dataset.length) {
    throw new RangeError(`${dataset.name}: image index ${index} is out of range [0, ${dataset.length})`);
  }
  const n = dataset.channels * dataset.imageSize * dataset.imageSize;
  if (!Number.isInteger(offset) || offset < 0 || offset + n > out.length) {
    throw new RangeError(
      `${dataset.name}: read needs ${n} values at offset ${offset}, but the output holds ${out.length}`,
    );
  }
}

/** A 32-bit hash of a list of numbers (each reduced to two 32-bit halves), for deriving seeds. */
export function mixSeed(...values: number[]): number {
  let h = 0x243f6a88;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`seed values must be finite, got ${v}`);
    const lo = v >>> 0;
    const hi = Math.floor(Math.abs(v) / 4294967296) >>> 0;
    h = fmix32(h ^ fmix32(lo + 0x9e3779b9));
    h = fmix32(h ^ fmix32(hi ^ 0x85ebca6b ^ (v < 0 ? 0x5bd1e995 : 0)));
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finaliser. */
function fmix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The largest image (width × height) decoded by default: 64 megapixels, an 8000×8000 photo.
 * Decoding needs about 11 bytes per pixel at once (RGBA, RGB, filters), so this is ~700 MB.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 64_000_000;
