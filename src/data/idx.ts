/**
 * MNIST and Fashion-MNIST in the IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header — two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, one
 * uint32 per dimension — then the data. Files may be gzipped (detected by the 1f 8b magic, not
 * by the name). Images stay at their native 28×28 in memory (47 MB for 60000) and are resized
 * on read, which is cheap and keeps memory independent of the image size and channel count.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import {
  byteToSigned,
  checkChannels,
  checkImageSize,
  checkLabelIndex,
  checkRead,
  DatasetError,
  FASHION_MNIST_CLASSES,
  MNIST_CLASSES,
  type DatasetSplit,
  type ImageDataset,
} from './common.js';
import { SquareResizer } from './resize.js';

const gunzipAsync = promisify(gunzip);

/** Where Debian's `dataset-fashion-mnist` package installs the files (train-images-idx3-ubyte.gz, …). */
export const FASHION_MNIST_DEFAULT_ROOT = '/usr/share/datasets/fashion-mnist';

const IMAGE_FILES = ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz', 'train-images.idx3-ubyte'];
const LABEL_FILES = ['train-labels-idx1-ubyte', 'train-labels-idx1-ubyte.gz', 'train-labels.idx1-ubyte'];
/** The held-out test split (10000 images in both MNIST and Fashion-MNIST). */
const TEST_IMAGE_FILES = ['t10k-images-idx3-ubyte', 't10k-images-idx3-ubyte.gz', 't10k-images.idx3-ubyte'];
const TEST_LABEL_FILES = ['t10k-labels-idx1-ubyte', 't10k-labels-idx1-ubyte.gz', 't10k-labels.idx1-ubyte'];

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Dimensions for a message: 60000×28×28, or the first few and the count when there are many. */
function dimsText(dims: readonly number[]): string {
  return dims.length <= 6 ? dims.join('×') : `${dims.slice(0, 4).join('×')}×… (${dims.length} dimensions)`;
}

/** Reads an IDX file's bytes (already un-gzipped) into its dimensions and unsigned-byte data. */
export function parseIdx(bytes: Uint8Array, file = 'IDX data'): IdxArray {
  const hex = (b: number | undefined) => (b ?? 0).toString(16).padStart(2, '0');
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => hex(b)).join(' ');
    throw new DatasetError(`${file} is not an IDX file (it starts with ${head || 'nothing'}, expected 00 00 08 <dims>)`);
  }
  if (bytes[2] !== 0x08) {
    throw new DatasetError(`${file} holds IDX data of type 0x${hex(bytes[2])}; only unsigned bytes (0x08) are supported`);
  }
  const ndims = bytes[3]!;
  const headerLength = 4 + 4 * ndims;
  if (ndims === 0 || bytes.length < headerLength) {
    throw new DatasetError(`${file} has a truncated or invalid IDX header (${ndims} dimensions, ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    count *= n;
  }
  // Many large dimensions overflow to Infinity, and Infinity × 0 is NaN: a zero dimension means no data.
  if (dims.includes(0)) count = 0;
  if (!(count <= bytes.length - headerLength)) {
    const needs = Number.isSafeInteger(count) ? String(count) : 'more than 2^53';
    throw new DatasetError(`${file} is truncated: its header (${dimsText(dims)}) needs ${needs} data bytes but it has ${bytes.length - headerLength}`);
  }
  return { dims, data: bytes.subarray(headerLength, headerLength + count) };
}

/** Largest un-gzipped IDX file we accept (MNIST's training images are 47 MB): a bound against gzip bombs. */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

function gunzipError(file: string, error: unknown): DatasetError {
  if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return new DatasetError(`${file} decompresses to more than ${MAX_IDX_BYTES} bytes, more than an IDX file may hold`);
  }
  return new DatasetError(`${file} is a corrupt gzip file: ${String((error as Error).message).split('\n')[0]}`);
}

/** Parses an IDX file's bytes, gunzipping them first when they start with the gzip magic (synchronous). */
export function decodeIdxFile(bytes: Uint8Array, file = 'IDX data'): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (error) {
      throw gunzipError(file, error);
    }
  }
  return parseIdx(bytes, file);
}

/** Reads and parses an IDX file, gunzipping it when it starts with the gzip magic. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DatasetError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = await gunzipAsync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (error) {
      throw gunzipError(path, error);
    }
  }
  return parseIdx(bytes, path);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function findFile(dirs: readonly string[], names: readonly string[]): Promise<string | null> {
  for (const dir of dirs) {
    for (const name of names) {
      const path = join(dir, name);
      if (await isFile(path)) return path;
    }
  }
  return null;
}

export type IdxDatasetName = 'mnist' | 'fashion-mnist';

export interface IdxOpenOptions {
  imageSize: number;
  channels: 1 | 3;
  root?: string;
  /** 'train' (default: train-images…) or 'test' (t10k-images…). */
  split?: DatasetSplit;
  onWarning?: (message: string) => void;
}

/** Images from an IDX images file (N×rows×cols bytes), 0 → −1 and 255 → 1, resized on read. */
export class IdxDataset implements ImageDataset {
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  readonly sourceHeight: number;
  readonly sourceWidth: number;
  private readonly resizer: SquareResizer;
  private readonly plane: Float64Array;

  constructor(
    readonly name: string,
    private readonly images: Uint8Array,
    dims: readonly number[],
    options: { imageSize: number; channels: 1 | 3 },
    /** One label per image, when a matching labels file was found. */
    readonly labels?: Uint8Array,
    /** The images file it was read from. */
    readonly file?: string,
  ) {
    this.imageSize = checkImageSize(options.imageSize);
    this.channels = checkChannels(options.channels);
    if (dims.length !== 3 || dims.some((d) => d < 1)) {
      throw new DatasetError(`${file ?? name}: expected an IDX images file with 3 dimensions (count×rows×cols), got ${dimsText(dims) || 'none'}`);
    }
    [this.length, this.sourceHeight, this.sourceWidth] = dims as [number, number, number];
    if (labels !== undefined && labels.length !== this.length) {
      throw new RangeError(`${name}: ${labels.length} labels for ${this.length} images`);
    }
    this.resizer = new SquareResizer(this.sourceWidth, this.sourceHeight, this.imageSize);
    this.plane = new Float64Array(this.imageSize * this.imageSize);
    if (labels !== undefined) {
      const known = name === 'mnist' ? MNIST_CLASSES : name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : null;
      let max = 0;
      for (const l of labels) max = Math.max(max, l);
      this.classes = known !== null && max < known.length ? known : Array.from({ length: max + 1 }, (_, i) => String(i));
    }
  }

  /** Class names when labels were found (MNIST: the digits; Fashion-MNIST: its ten garments). */
  readonly classes?: readonly string[];

  label(index: number): number {
    if (this.labels === undefined) throw new DatasetError(`${this.file ?? this.name}: no labels file was found next to the images`);
    checkLabelIndex(this, index);
    return this.labels[index]!;
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    const w = this.sourceWidth;
    this.resizer.resize(this.images, index * w * this.sourceHeight, 1, w, this.plane, 0);
    const n = this.plane.length;
    for (let i = 0; i < n; i++) out[offset + i] = byteToSigned(this.plane[i]!);
    for (let c = 1; c < this.channels; c++) out.copyWithin(offset + c * n, offset, offset + n);
  }
}

function searchDirs(name: IdxDatasetName, root: string): string[] {
  // The root itself, and the layouts other tools leave behind (a named subfolder, torchvision's <Name>/raw).
  const sub = name === 'mnist' ? ['mnist', 'MNIST/raw'] : ['fashion-mnist', 'FashionMNIST/raw'];
  return [root, ...sub.map((s) => join(root, s))];
}

/** Opens MNIST or Fashion-MNIST training (or test) images, and labels when present, from `root`. */
export async function openIdxDataset(name: IdxDatasetName, options: IdxOpenOptions): Promise<IdxDataset> {
  checkImageSize(options.imageSize);
  checkChannels(options.channels);
  const howToGet =
    name === 'fashion-mnist'
      ? `install it with \`apt-get install dataset-fashion-mnist\` (files go to ${FASHION_MNIST_DEFAULT_ROOT}) or pass --data-root DIR with the IDX files`
      : 'pass --data-root DIR with the MNIST IDX files (there is no Debian package for MNIST; the files are from http://yann.lecun.com/exdb/mnist/)';
  const prefix = options.split === 'test' ? 't10k' : 'train';
  const expected = `${prefix}-images-idx3-ubyte[.gz] (labels optional: ${prefix}-labels-idx1-ubyte[.gz])`;
  let root = options.root;
  if (root === undefined) {
    if (name === 'mnist') throw new DatasetError(`mnist: no data directory given; ${howToGet}: ${expected}`);
    root = FASHION_MNIST_DEFAULT_ROOT;
  }
  if (!(await isDirectory(root))) {
    throw new DatasetError(`${name}: directory ${root} not found; ${howToGet}: ${expected}`);
  }
  const dirs = searchDirs(name, root);
  const test = options.split === 'test';
  const imagesPath = await findFile(dirs, test ? TEST_IMAGE_FILES : IMAGE_FILES);
  if (imagesPath === null) {
    throw new DatasetError(`${name}: no ${expected} in ${root}; ${howToGet}`);
  }
  const images = await readIdxFile(imagesPath);
  let labels: Uint8Array | undefined;
  const labelsPath = await findFile(dirs, test ? TEST_LABEL_FILES : LABEL_FILES);
  if (labelsPath !== null) {
    try {
      const parsed = await readIdxFile(labelsPath);
      if (parsed.dims.length !== 1 || parsed.dims[0] !== images.dims[0]) {
        options.onWarning?.(
          `${name}: ignoring labels in ${labelsPath}: shape ${dimsText(parsed.dims)} does not match ${images.dims[0]} images`,
        );
      } else {
        labels = parsed.data;
      }
    } catch (error) {
      options.onWarning?.(`${name}: ignoring unreadable labels file: ${(error as Error).message}`);
    }
  }
  return new IdxDataset(name, images.data, images.dims, options, labels, imagesPath);
}
