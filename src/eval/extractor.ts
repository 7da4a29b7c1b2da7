/**
 * Feature extractors for `dcgan eval`, cached in a user folder.
 *
 * For a labelled data set (shapes, MNIST, Fashion-MNIST, CIFAR-10) the extractor is a
 * FeatureClassifier trained once per (data set, image size, channels) on its training split;
 * its accuracy on the test split, the training time and a SHA-256 of its weights are stored
 * next to the weights, and the id `<data>-<size>x<channels>-cnn-<hash8>` names it in every
 * metric's output. Image folders (no labels) get the documented fallback: the same network
 * with random (seeded) weights whose BatchNorm statistics are set from the real images —
 * features that respond to colours, edges and textures but not to learned classes, so their
 * numbers only compare runs on the same data with the same extractor id.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cacheDir } from '../data/cache-dir.js';
import { join } from 'node:path';
import { datasetName, hasLabels, openDataset, type ImageDataset } from '../data/index.js';
import { decodeSafetensors, encodeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { getBackendName } from '../kernels/registry.js';
import { tensor } from '../ops/create.js';
import { Generator } from '../tensor/random.js';
import { calibrateBatchNorm, CLASSIFIER_VERSION, FeatureClassifier, testAccuracy, trainClassifier, weightsHash, type TrainClassifierOptions } from './classifier.js';

export type ExtractorKind = 'trained-classifier' | 'random-cnn';

export interface FeatureExtractor {
  /** Goes into every metric's output, e.g. 'fashion-mnist-32x1-cnn-1a2b3c4d'. */
  readonly id: string;
  readonly kind: ExtractorKind;
  readonly dataset: string;
  readonly imageSize: number;
  readonly channels: 1 | 3;
  /** Class names (trained classifiers only). */
  readonly classes: readonly string[] | null;
  /** Accuracy on the data set's test split (trained classifiers only). */
  readonly testAccuracy: number | null;
  /** SHA-256 of the weights, hex. */
  readonly sha256: string;
  readonly net: FeatureClassifier;
  /** Seconds the training took when it was trained (now or when cached). */
  readonly trainSeconds: number | null;
  /** Where the weights are cached (trained classifiers only). */
  readonly file: string | null;
  /** Whether this call trained it (false: read from the cache). */
  readonly trained: boolean;
  /** A warning to print with the numbers (the random-feature fallback), or null. */
  readonly caveat: string | null;
}

export { cacheDir };

/** How long each data set's classifier trains (epochs over its training split, images per epoch). */
export const CLASSIFIER_TRAINING: Record<string, TrainClassifierOptions> = {
  shapes: { epochs: 1, maxImages: 20000 },
  mnist: { epochs: 2 },
  'fashion-mnist': { epochs: 2 },
  cifar10: { epochs: 4 },
};

export const RANDOM_FEATURES_CAVEAT =
  'these features come from a CNN with random weights (the data set has no labels to train a classifier on): the numbers compare runs on the same data with the same extractor id, and mean nothing across data sets or against published FIDs';

export interface ExtractorOptions {
  imageSize: number;
  channels: 1 | 3;
  /** --data-root for the built-in data sets. */
  root?: string;
  /** The cache folder (default cacheDir()). */
  cacheDir?: string;
  /** Training overrides (tests use short runs). */
  training?: TrainClassifierOptions;
  /** The real images, for the random-feature fallback's BatchNorm statistics (default: opened from the spec). */
  dataset?: ImageDataset;
  /** Progress of a training run. */
  onProgress?: TrainClassifierOptions['onProgress'];
  /** One-line notes (training starts, cache file written). */
  onLog?: (message: string) => void;
  onWarning?: (message: string) => void;
}

interface CachedMetadata {
  format: 'dcgan-ts-feature-classifier';
  version: number;
  dataset: string;
  imageSize: number;
  channels: 1 | 3;
  classes: string[];
  width: number;
  testAccuracy: number;
  trainSeconds: number;
  epochs: number;
  trainImages: number;
  sha256: string;
  backend: string;
}

function cacheFile(dir: string, dataset: string, imageSize: number, channels: number, version: number): string {
  return join(dir, 'classifiers', `${dataset}-${imageSize}x${channels}-cnn-v${version}.safetensors`);
}

function extractorId(dataset: string, imageSize: number, channels: number, sha256: string, kind: ExtractorKind): string {
  return `${dataset}-${imageSize}x${channels}-${kind === 'random-cnn' ? 'random-cnn' : 'cnn'}-${sha256.slice(0, 8)}`;
}

function readCached(file: string, expect: { dataset: string; imageSize: number; channels: 1 | 3 }): { net: FeatureClassifier; meta: CachedMetadata } | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    return null;
  }
  const parsed = decodeSafetensors(bytes, file);
  const metaJson = parsed.metadata['classifier'];
  if (metaJson === undefined) throw new Error(`${file}: not a dcgan-ts feature classifier (no 'classifier' metadata)`);
  const meta = JSON.parse(metaJson) as CachedMetadata;
  if (meta.dataset !== expect.dataset || meta.imageSize !== expect.imageSize || meta.channels !== expect.channels) {
    throw new Error(`${file}: holds a classifier for ${meta.dataset} ${meta.imageSize}x${meta.channels}, not ${expect.dataset} ${expect.imageSize}x${expect.channels}`);
  }
  const net = new FeatureClassifier({ imageSize: meta.imageSize, channels: meta.channels, classes: meta.classes.length, width: meta.width });
  const state: Record<string, ReturnType<typeof tensor>> = {};
  for (const [name, t] of parsed.tensors) state[name] = tensor(t.data, t.shape);
  net.loadStateDict(state);
  for (const t of Object.values(state)) t.dispose();
  net.eval();
  const hash = weightsHash(net);
  if (hash !== meta.sha256) throw new Error(`${file}: the weights' SHA-256 ${hash.slice(0, 8)}… does not match the recorded ${meta.sha256.slice(0, 8)}… (a corrupt cache file; delete it to retrain)`);
  return { net, meta };
}

function writeCached(file: string, net: FeatureClassifier, meta: CachedMetadata): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const tensors: Array<[string, TensorToWrite]> = Object.entries(net.stateDict()).map(([name, t]) => [
    name,
    { shape: t.shape, data: t.data, dtype: name.endsWith('num_batches_tracked') ? 'I64' : 'F32' },
  ]);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, encodeSafetensors(tensors, { classifier: JSON.stringify(meta) }));
  renameSync(tmp, file);
}

/**
 * The feature extractor for a `--data` spec at an image size and channel count: the cached
 * classifier, or one trained now (and cached), or for data without labels the random-weight
 * fallback (with its caveat).
 */
export async function loadFeatureExtractor(spec: string, options: ExtractorOptions): Promise<FeatureExtractor> {
  const { imageSize, channels } = options;
  const name = datasetName(spec);
  const dir = options.cacheDir ?? cacheDir();
  if (name !== null) {
    const train = await openDataset(spec, { imageSize, channels, root: options.root, onWarning: options.onWarning });
    if (hasLabels(train)) {
      const file = cacheFile(dir, name, imageSize, channels, CLASSIFIER_VERSION);
      const cached = readCached(file, { dataset: name, imageSize, channels });
      if (cached !== null) {
        const { net, meta } = cached;
        return {
          id: extractorId(name, imageSize, channels, meta.sha256, 'trained-classifier'),
          kind: 'trained-classifier',
          dataset: name,
          imageSize,
          channels,
          classes: meta.classes,
          testAccuracy: meta.testAccuracy,
          sha256: meta.sha256,
          net,
          trainSeconds: meta.trainSeconds,
          file,
          trained: false,
          caveat: null,
        };
      }
      // The built-in shapes have no fixed test set: 10000 images of another seed.
      const test = await openDataset(spec, { imageSize, channels, root: options.root, split: 'test', length: 10000, onWarning: options.onWarning });
      const training = { ...CLASSIFIER_TRAINING[name], ...options.training, onProgress: options.onProgress };
      const net = new FeatureClassifier({ imageSize, channels, classes: train.classes.length }, new Generator(training.seed ?? 0));
      options.onLog?.(`training the ${name} ${imageSize}x${channels} feature classifier (${training.epochs ?? 2} epoch(s) over ${Math.min(training.maxImages ?? train.length, train.length)} images; cached for later runs in ${file})`);
      const result = trainClassifier(net, train, training);
      const accuracy = testAccuracy(net, test);
      const sha256 = weightsHash(net);
      const meta: CachedMetadata = {
        format: 'dcgan-ts-feature-classifier',
        version: CLASSIFIER_VERSION,
        dataset: name,
        imageSize,
        channels,
        classes: [...train.classes],
        width: net.shape.width,
        testAccuracy: accuracy,
        trainSeconds: result.seconds,
        epochs: result.epochs,
        trainImages: result.images,
        sha256,
        backend: getBackendName(),
      };
      writeCached(file, net, meta);
      options.onLog?.(`feature classifier: test accuracy ${(100 * accuracy).toFixed(2)}% on ${test.length} test images, trained in ${result.seconds.toFixed(1)} s; wrote ${file}`);
      return {
        id: extractorId(name, imageSize, channels, sha256, 'trained-classifier'),
        kind: 'trained-classifier',
        dataset: name,
        imageSize,
        channels,
        classes: meta.classes,
        testAccuracy: accuracy,
        sha256,
        net,
        trainSeconds: result.seconds,
        file,
        trained: true,
        caveat: null,
      };
    }
  }
  // The fallback: random weights, BatchNorm statistics from (up to 2000 of) the real images.
  const real = options.dataset ?? (await openDataset(spec, { imageSize, channels, root: options.root, onWarning: options.onWarning }));
  const net = new FeatureClassifier({ imageSize, channels, classes: 1 }, new Generator(0));
  const count = Math.min(real.length, 2000);
  calibrateBatchNorm(net, real, Array.from({ length: count }, (_, i) => Math.floor((i * real.length) / count)));
  const sha256 = weightsHash(net);
  const label = name ?? 'folder';
  return {
    id: extractorId(label, imageSize, channels, sha256, 'random-cnn'),
    kind: 'random-cnn',
    dataset: name ?? spec,
    imageSize,
    channels,
    classes: null,
    testAccuracy: null,
    sha256,
    net,
    trainSeconds: null,
    file: null,
    trained: false,
    caveat: RANDOM_FEATURES_CAVEAT,
  };
}
