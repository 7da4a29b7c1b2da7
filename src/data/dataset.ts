/**
 * openDataset: one entry point from a `--data` spec to an ImageDataset of CHW float32 images
 * in [−1, 1] at the requested size and channel count.
 */
import { stat } from 'node:fs/promises';
import { openCifar10 } from './cifar.js';
import { checkChannels, checkImageSize, DatasetError, type DatasetSplit, type ImageDataset } from './common.js';
import { openImageFolder } from './folder.js';
import { openIdxDataset } from './idx.js';
import { ShapesDataset } from './shapes.js';

export { DatasetError, hasLabels, type DatasetSplit, type ImageDataset, type LabelledDataset } from './common.js';

export interface OpenDatasetOptions {
  imageSize: number;
  channels: 1 | 3;
  seed?: number;
  /** for 'shapes' */
  length?: number;
  /** override default locations */
  root?: string;
  /** For image folders: skip images whose header promises more pixels than this (default 64 megapixels). */
  maxImagePixels?: number;
  /**
   * 'train' (default) or 'test': the held-out images of MNIST, Fashion-MNIST (t10k-…) and
   * CIFAR-10 (test_batch.bin). Image folders have no test split; `shapes` draws its test
   * images from another seed (see SHAPES_TEST_SEED_OFFSET).
   */
  split?: DatasetSplit;
  onWarning?: (message: string) => void;
  /**
   * Image folders: keep the prepared images in a cache file (default true) under `cacheDir`
   * (default $DCGAN_CACHE_DIR, $XDG_CACHE_HOME/dcgan-ts or ~/.cache/dcgan-ts), rebuilt when the
   * folder's files, sizes or mtimes change; false decodes into memory.
   */
  cache?: boolean;
  cacheDir?: string;
  /** Image folders: worker threads preparing the cache (default min(cores, files)). */
  workers?: number;
  /** Image folders: the JPEG decoder of a cache preparation ('sharp' when installed, else 'js'; see FolderOpenOptions). */
  decoder?: 'js' | 'sharp';
  /** Image folders: preparation progress (images done, of total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Image folders, first run (no cache yet): return at once and decode images on demand while
   * worker threads fill the cache (default: for folders of at least LAZY_MIN_IMAGES images; see FolderOpenOptions.lazy).
   */
  lazy?: boolean;
}

/** The `shapes` test split is the images of seed + this offset (independent draws of the same distribution). */
export const SHAPES_TEST_SEED_OFFSET = 1_000_003;

/** The built-in names a spec may take (anything else is an image folder path). */
export const DATASET_NAMES = ['shapes', 'mnist', 'fashion-mnist', 'cifar10'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const ALIASES: Record<string, DatasetName> = {
  shapes: 'shapes',
  mnist: 'mnist',
  'fashion-mnist': 'fashion-mnist',
  fashion_mnist: 'fashion-mnist',
  fashionmnist: 'fashion-mnist',
  cifar10: 'cifar10',
  'cifar-10': 'cifar10',
};

/** The built-in dataset a spec names (case-insensitive, a few spellings), or null for a path. */
export function datasetName(spec: string): DatasetName | null {
  return ALIASES[spec.toLowerCase()] ?? null;
}

/**
 * spec: 'shapes' | 'mnist' | 'fashion-mnist' | 'cifar10' | a directory path (image folder;
 * also used for mnist/cifar10 when `root` is given). Throws DatasetError with a clear one-line message.
 */
export async function openDataset(spec: string, options: OpenDatasetOptions): Promise<ImageDataset> {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new DatasetError(`no dataset given; use one of ${DATASET_NAMES.join(', ')} or an image folder path`);
  }
  const imageSize = checkImageSize(options.imageSize);
  const channels = checkChannels(options.channels);
  const common = { imageSize, channels, onWarning: options.onWarning };
  const name = datasetName(spec);
  switch (name) {
    case 'shapes':
      return new ShapesDataset({
        imageSize,
        channels,
        seed: (options.seed ?? 0) + (options.split === 'test' ? SHAPES_TEST_SEED_OFFSET : 0),
        length: options.length,
      });
    case 'mnist':
    case 'fashion-mnist':
      return openIdxDataset(name, { ...common, root: options.root, split: options.split });
    case 'cifar10':
      return openCifar10({ ...common, root: options.root, split: options.split });
    default:
      break;
  }
  let isDir: boolean;
  try {
    isDir = (await stat(spec)).isDirectory();
  } catch {
    throw new DatasetError(
      `unknown dataset "${spec}": it is not one of ${DATASET_NAMES.join(', ')} and no directory ${spec} exists`,
    );
  }
  if (options.split === 'test') {
    throw new DatasetError(`image folder ${spec} has no test split; only mnist, fashion-mnist, cifar10 and shapes have one`);
  }
  if (!isDir) {
    throw new DatasetError(`dataset "${spec}" is a file; give an image folder or one of ${DATASET_NAMES.join(', ')}`);
  }
  try {
    return await openImageFolder(spec, { ...common, maxImagePixels: options.maxImagePixels, cache: options.cache, cacheDir: options.cacheDir, workers: options.workers, decoder: options.decoder, onProgress: options.onProgress, lazy: options.lazy });
  } catch (error) {
    if (error instanceof DatasetError && error.message.startsWith('no images')) {
      const hint = await formatHint(spec);
      if (hint !== null) throw new DatasetError(`${error.message}; ${hint}`);
    }
    throw error;
  }
}

/** A folder with no images that holds IDX or CIFAR files was probably meant as a data root. */
async function formatHint(dir: string): Promise<string | null> {
  const has = async (...names: string[]) => {
    for (const n of names) {
      try {
        if ((await stat(`${dir}/${n}`)).isFile()) return true;
      } catch {
        // not there
      }
    }
    return false;
  };
  if (await has('train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz')) {
    return `it holds IDX files: use --data mnist (or fashion-mnist) --data-root ${dir}`;
  }
  if ((await has('data_batch_1.bin')) || (await has('cifar-10-batches-bin/data_batch_1.bin'))) {
    return `it holds CIFAR-10 batches: use --data cifar10 --data-root ${dir}`;
  }
  return null;
}
