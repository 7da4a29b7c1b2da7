/**
 * The feature extractor of `dcgan eval`: a small CNN classifier trained with our own engine on
 * the labelled data set itself. Its penultimate layer (FEATURE_DIM values after a LeakyReLU) is
 * the feature space of the local FID / KID / precision-recall, and its softmax gives the
 * classifier score and the class histogram.
 *
 *   conv 3×3 (width) → [conv 4×4 stride 2, doubling the width] … down to 4×4 → conv 4×4 valid
 *   to FEATURE_DIM×1×1 → flatten → linear to the classes;
 *   every convolution followed by BatchNorm and LeakyReLU(0.2), DCGAN's discriminator style.
 */
import { createHash } from 'node:crypto';
import { backward } from '../autograd/backward.js';
import { record } from '../autograd/record.js';
import { noGrad } from '../autograd/mode.js';
import { hasLabels, type ImageDataset } from '../data/index.js';
import { tensor } from '../ops/create.js';
import { Adam } from '../optim/adam.js';
import { BatchNorm2d, Conv2d, Flatten, LeakyReLU, Linear, Module, Sequential } from '../nn/index.js';
import { kaimingUniform_, uniform_, calculateFanInAndFanOut } from '../nn/init.js';
import { Generator } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { makeFeatures, type Features } from './features.js';

/** Length of the feature vectors. */
export const FEATURE_DIM = 128;
/** Bumped whenever the architecture or its training changes, so cached networks are retrained. */
export const CLASSIFIER_VERSION = 1;

export interface ClassifierShape {
  imageSize: number;
  channels: 1 | 3;
  classes: number;
  /** Channels of the first convolution (default 16). */
  width?: number;
}

/** A CNN classifier whose `features` part maps images to FEATURE_DIM-vectors. */
export class FeatureClassifier extends Module {
  readonly features: Sequential;
  readonly head: Linear;
  readonly shape: Required<ClassifierShape>;

  constructor(shape: ClassifierShape, generator: Generator = new Generator(0)) {
    super();
    const { imageSize, channels, classes } = shape;
    const width = shape.width ?? 16;
    if (!Number.isInteger(Math.log2(imageSize)) || imageSize < 8) {
      throw new RangeError(`feature classifier: image size must be a power of two ≥ 8, got ${imageSize}`);
    }
    if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`feature classifier: classes must be a positive integer, got ${classes}`);
    this.shape = { imageSize, channels, classes, width };
    const layers: Module[] = [];
    const block = (cin: number, cout: number, k: number, stride: number, padding: number) => {
      layers.push(new Conv2d(cin, cout, k, { stride, padding, bias: false }), new BatchNorm2d(cout), new LeakyReLU(0.2));
    };
    block(channels, width, 3, 1, 1);
    let size = imageSize;
    let c = width;
    while (size > 4) {
      const next = Math.min(2 * c, 256);
      block(c, next, 4, 2, 1);
      c = next;
      size /= 2;
    }
    block(c, FEATURE_DIM, 4, 1, 0);
    layers.push(new Flatten());
    this.features = this.registerModule('features', new Sequential(...layers));
    this.head = this.registerModule('head', new Linear(FEATURE_DIM, classes));
    // Seeded initialisation (PyTorch's defaults, from our own generator).
    for (const [name, p] of this.namedParameters()) {
      if (p.shape.length >= 2) kaimingUniform_(p, Math.sqrt(5), generator);
      else if (name.startsWith('head.')) {
        const bound = 1 / Math.sqrt(calculateFanInAndFanOut(this.head.weight).fanIn);
        uniform_(p, -bound, bound, generator);
      }
    }
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x));
  }
}

/**
 * Mean cross-entropy of logits [N, C] against integer labels (PyTorch's CrossEntropyLoss),
 * computed from the row-wise log-softmax; the gradient is (softmax − one-hot) / N.
 */
export function crossEntropy(logits: Tensor, labels: ArrayLike<number>): Tensor {
  const [n, c] = logits.shape as [number, number];
  if (logits.shape.length !== 2 || labels.length !== n) {
    throw new RangeError(`crossEntropy: expected logits [N, C] and N labels, got [${logits.shape.join(', ')}] and ${labels.length} labels`);
  }
  const x = logits.data;
  const probs = new Float32Array(n * c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, x[i * c + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[i * c + j]! - max);
    const logZ = max + Math.log(s);
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= c) throw new RangeError(`crossEntropy: label ${label} is not a class index in [0, ${c})`);
    loss += logZ - x[i * c + label]!;
    for (let j = 0; j < c; j++) probs[i * c + j] = Math.exp(x[i * c + j]! - logZ);
  }
  const out = tensor([loss / n], []);
  return record(out, 'crossEntropy', [logits], (g) => {
    const scale = g.data[0]! / n;
    const grad = new Float32Array(n * c);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c; j++) grad[i * c + j] = probs[i * c + j]! * scale;
      grad[i * c + labels[i]!]! -= scale;
    }
    return [tensor(grad, logits.shape)];
  });
}

/** Reads images [start, start + count) of `dataset` (or the listed indices) into one batch tensor's data. */
export function readImages(dataset: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const per = dataset.channels * dataset.imageSize * dataset.imageSize;
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) dataset.read(indices[i]!, out, i * per);
  return out;
}

export interface TrainClassifierOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Use at most this many training images (default: all). */
  maxImages?: number;
  /** Called every few batches: images seen, of total, and the running loss and accuracy. */
  onProgress?: (done: number, total: number, loss: number, accuracy: number) => void;
}

export interface TrainResult {
  seconds: number;
  epochs: number;
  images: number;
  /** Accuracy on the training batches of the last epoch (in training mode). */
  trainAccuracy: number;
}

/** Trains `net` on a labelled data set: Adam, cross-entropy, the learning rate divided by 5 each epoch. */
export function trainClassifier(net: FeatureClassifier, dataset: ImageDataset, options: TrainClassifierOptions = {}): TrainResult {
  if (!hasLabels(dataset)) throw new RangeError(`${dataset.name}: the data set has no labels to train a classifier on`);
  const epochs = options.epochs ?? 2;
  const batchSize = options.batchSize ?? 64;
  const total = Math.min(options.maxImages ?? dataset.length, dataset.length);
  const rng = new Generator(options.seed ?? 0);
  const opt = new Adam(net.parameters(), { lr: options.lr ?? 1e-3 });
  const { channels, imageSize } = dataset;
  const started = performance.now();
  let trainAccuracy = 0;
  net.train();
  for (let epoch = 0; epoch < epochs; epoch++) {
    opt.lr = (options.lr ?? 1e-3) / 5 ** epoch;
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    for (let i = total - 1; i > 0; i--) {
      const j = Math.floor(rng.nextFloat() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    let seen = 0;
    let correct = 0;
    let lossSum = 0;
    for (let start = 0; start + batchSize <= total; start += batchSize) {
      const idx = order.subarray(start, start + batchSize);
      const labels = Array.from(idx, (i) => dataset.label(i));
      tidy(() => {
        opt.zeroGrad();
        const x = tensor(readImages(dataset, idx), [batchSize, channels, imageSize, imageSize]);
        const logits = net.forward(x);
        const loss = crossEntropy(logits, labels);
        backward(loss);
        opt.step();
        lossSum += loss.item() * batchSize;
        correct += countCorrect(logits.data, labels, net.shape.classes);
      });
      opt.zeroGrad();
      seen += batchSize;
      if (options.onProgress && (seen / batchSize) % 20 === 0) options.onProgress(epoch * total + seen, epochs * total, lossSum / seen, correct / seen);
    }
    trainAccuracy = seen > 0 ? correct / seen : 0;
  }
  net.eval();
  return { seconds: (performance.now() - started) / 1000, epochs, images: total, trainAccuracy };
}

function countCorrect(logits: Float32Array, labels: readonly number[], classes: number): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === labels[i]) correct++;
  }
  return correct;
}

/** Features and logits of a batch of images ([N, C, H, W] data), in eval mode under noGrad. */
export function embedBatch(net: FeatureClassifier, images: Float32Array, count: number): { features: Float32Array; logits: Float32Array } {
  const { channels, imageSize } = net.shape;
  const wasTraining = net.training;
  net.eval();
  try {
    return tidy(() =>
      noGrad(() => {
        const x = tensor(images, [count, channels, imageSize, imageSize]);
        const f = net.features.forward(x);
        const logits = net.head.forward(f);
        return { features: Float32Array.from(f.data), logits: Float32Array.from(logits.data) };
      }),
    );
  } finally {
    net.train(wasTraining);
  }
}

/** Embeds images [0, n) of a data set (or the listed indices), `batchSize` at a time. */
export function embedDataset(net: FeatureClassifier, dataset: ImageDataset, indices: ArrayLike<number>, batchSize = 250): { features: Features; logits: Float32Array } {
  const n = indices.length;
  const features = new Float32Array(n * FEATURE_DIM);
  const logits = new Float32Array(n * net.shape.classes);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const idx = Array.from({ length: count }, (_, i) => indices[start + i]!);
    const out = embedBatch(net, readImages(dataset, idx), count);
    features.set(out.features, start * FEATURE_DIM);
    logits.set(out.logits, start * net.shape.classes);
  }
  return { features: makeFeatures(features, n, FEATURE_DIM), logits };
}

/** Share of the test images the classifier labels correctly. */
export function testAccuracy(net: FeatureClassifier, test: ImageDataset, batchSize = 250): number {
  if (!hasLabels(test)) throw new RangeError(`${test.name}: the test set has no labels`);
  const indices = Array.from({ length: test.length }, (_, i) => i);
  const { logits } = embedDataset(net, test, indices, batchSize);
  return countCorrect(logits, indices.map((i) => test.label(i)), net.shape.classes) / test.length;
}

/** SHA-256 (hex) of a module's state dict: every name, shape and float32 value in order. */
export function weightsHash(net: Module): string {
  const hash = createHash('sha256');
  for (const [name, t] of Object.entries(net.stateDict())) {
    hash.update(`${name}:${t.shape.join('x')};`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Sets BatchNorm's running statistics from real images (a forward pass in training mode with
 * a cumulative average), for the random-weight fallback: the layers then see normalised
 * inputs, as a trained network's do.
 */
export function calibrateBatchNorm(net: FeatureClassifier, dataset: ImageDataset, indices: ArrayLike<number>, batchSize = 250): void {
  const { channels, imageSize } = net.shape;
  const bns = [...net.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  const saved = bns.map((bn) => bn.momentum);
  for (const bn of bns) {
    (bn as { momentum: number | null }).momentum = null;
    bn.runningMean?.data.fill(0);
    bn.runningVar?.data.fill(1);
    bn.numBatchesTracked?.data.fill(0);
  }
  net.train();
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const count = Math.min(batchSize, indices.length - start);
      if (count < 2) break;
      const idx = Array.from({ length: count }, (_, i) => indices[start + i]!);
      tidy(() => noGrad(() => net.features.forward(tensor(readImages(dataset, idx), [count, channels, imageSize, imageSize]))));
    }
  } finally {
    bns.forEach((bn, i) => ((bn as { momentum: number | null }).momentum = saved[i]!));
    net.eval();
  }
}
