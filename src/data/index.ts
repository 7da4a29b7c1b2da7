/** The data layer: datasets yielding CHW float32 images in [-1, 1], and a seeded batch loader. */
export {
  openDataset,
  datasetName,
  DATASET_NAMES,
  DatasetError,
  hasLabels,
  SHAPES_TEST_SEED_OFFSET,
  type DatasetName,
  type DatasetSplit,
  type ImageDataset,
  type LabelledDataset,
  type OpenDatasetOptions,
} from './dataset.js';
export { DataLoader, epochPermutation, type Batch, type DataLoaderOptions, type LoaderState } from './loader.js';
export {
  ShapesDataset,
  renderCoverage,
  SHAPE_KINDS,
  SHAPES_DEFAULT_LENGTH,
  type ShapeKind,
  type ShapeSpec,
  type ShapesOptions,
} from './shapes.js';
export { IdxDataset, openIdxDataset, parseIdx, decodeIdxFile, readIdxFile, MAX_IDX_BYTES, FASHION_MNIST_DEFAULT_ROOT, type IdxArray, type IdxDatasetName } from './idx.js';
export { Cifar10Dataset, openCifar10, parseCifarBatches, CIFAR_BATCH_FILES, CIFAR_RECORD, CIFAR_SUBFOLDER, CIFAR_TEST_FILE } from './cifar.js';
export {
  ImageFolderDataset,
  openImageFolder,
  listImageFiles,
  decodeImage,
  readImageHeader,
  loadImageBytes,
  imageToBytes,
  ImageTooLargeError,
  DEFAULT_MAX_IMAGE_PIXELS,
  IMAGE_EXTENSIONS,
  LAZY_MIN_IMAGES,
  type RgbImage,
  type ImageHeader,
  type FolderOpenOptions,
} from './folder.js';
export {
  CachedFolderDataset,
  parseFolderCache,
  folderCachePath,
  FOLDER_CACHE_VERSION,
  type CacheHeader,
} from './folder-cache.js';
export { LazyFolderDataset } from './folder-lazy.js';
export { cacheDir } from './cache-dir.js';
export { SquareResizer, axisPlan, type AxisPlan } from './resize.js';
export { luma, byteToSigned, MNIST_CLASSES, FASHION_MNIST_CLASSES, CIFAR10_CLASSES } from './common.js';
