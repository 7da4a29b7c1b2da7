/**
 * `dcgan eval`'s computation, independent of where the samples come from: embed n real images
 * and n generated ones (a batch at a time, so memory is bounded by the batch and the n × 128
 * feature matrices), then every metric in the extractor's feature space.
 */
import type { ImageDataset } from '../data/index.js';
import { Generator } from '../tensor/random.js';
import { embedBatch, embedDataset, FEATURE_DIM } from './classifier.js';
import type { FeatureExtractor } from './extractor.js';
import { makeFeatures, type Features } from './features.js';
import {
  classHistogram,
  classifierScore,
  gaussianStats,
  frechetDistance,
  kernelInceptionDistance,
  precisionRecall,
  sampleWithoutReplacement,
  softmax,
  type KidOptions,
} from './metrics.js';

export interface EvaluateOptions {
  /** Generated and real images to compare (real ones capped at the data set's size). */
  n: number;
  /** Images per forward pass. */
  batchSize?: number;
  /** Seeds the choice of real images and the KID subsets. */
  seed?: number;
  kid?: Omit<KidOptions, 'seed'>;
  /** k of the k-NN manifolds (default 3). */
  k?: number;
  /** `count` generated images as [count, C, H, W] data in [−1, 1] (of the given classes, for a conditional generator). */
  sample: (count: number, labels?: readonly number[]) => Float32Array;
  /** For a conditional generator: the class requested for each of the n images (indices into the data set's classes). */
  labels?: readonly number[];
  /** Progress: phase 'real' | 'samples' | 'metrics', images done of total. */
  onProgress?: (phase: EvalPhase, done: number, total: number) => void;
}

export type EvalPhase = 'real' | 'samples' | 'metrics';

export interface ExtractorInfo {
  id: string;
  kind: string;
  dataset: string;
  image_size: number;
  channels: number;
  feature_dim: number;
  test_accuracy: number | null;
  sha256: string;
  caveat: string | null;
}

/** The numbers `dcgan eval` prints; names end in _local: they are in the local extractor's feature space, not Inception's. */
export interface EvalReport {
  feature_extractor: ExtractorInfo;
  n_real: number;
  n_generated: number;
  fid_local: number;
  kid_local: { mean: number; std: number; subsets: number; subset_size: number };
  precision_local: number;
  recall_local: number;
  k: number;
  /** exp E[KL(p(y|x) ‖ p(y))] of the generated images under the local classifier (null without labels). */
  classifier_score: number | null;
  /** The same for the real images, for scale. */
  classifier_score_real: number | null;
  /** Generated images per predicted class (null without labels). */
  class_histogram: Record<string, number> | null;
  /** Real images per predicted class, for comparison. */
  class_histogram_real: Record<string, number> | null;
  /** For a conditional generator: the share of samples the local classifier assigns to the class they were drawn for. */
  conditional_accuracy: number | null;
  /** Classes that get at least a fifth of their fair share (n / classes / 5) of the generated images. */
  classes_covered: number | null;
  seconds: number;
}

export function extractorInfo(extractor: FeatureExtractor): ExtractorInfo {
  return {
    id: extractor.id,
    kind: extractor.kind,
    dataset: extractor.dataset,
    image_size: extractor.imageSize,
    channels: extractor.channels,
    feature_dim: FEATURE_DIM,
    test_accuracy: extractor.testAccuracy,
    sha256: extractor.sha256,
    caveat: extractor.caveat,
  };
}

function histogram(probabilities: Float64Array, classes: readonly string[]): Record<string, number> {
  const counts = classHistogram(probabilities, classes.length);
  return Object.fromEntries(classes.map((c, i) => [c, counts[i]!]));
}

/** Embeds `n` generated images, `batchSize` at a time. */
export function embedGenerated(
  extractor: FeatureExtractor,
  n: number,
  batchSize: number,
  sample: (count: number, labels?: readonly number[]) => Float32Array,
  onProgress?: (done: number) => void,
  labels?: readonly number[],
): { features: Features; logits: Float32Array } {
  const classes = extractor.net.shape.classes;
  const dim = FEATURE_DIM;
  const features = new Float32Array(n * dim);
  const logits = new Float32Array(n * classes);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const images = sample(count, labels?.slice(start, start + count));
    const expected = count * extractor.channels * extractor.imageSize * extractor.imageSize;
    if (images.length !== expected) {
      throw new RangeError(`generated batch has ${images.length} values, expected ${count} images of ${extractor.channels}×${extractor.imageSize}×${extractor.imageSize}`);
    }
    const out = embedBatch(extractor.net, images, count);
    features.set(out.features, start * dim);
    logits.set(out.logits, start * classes);
    onProgress?.(start + count);
  }
  return { features: makeFeatures(features, n, dim), logits };
}

export function evaluateGenerator(extractor: FeatureExtractor, real: ImageDataset, options: EvaluateOptions): EvalReport {
  const started = performance.now();
  const batchSize = options.batchSize ?? 250;
  const seed = options.seed ?? 0;
  const n = options.n;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer ≥ 2, got ${n}`);
  if (real.imageSize !== extractor.imageSize || real.channels !== extractor.channels) {
    throw new RangeError(`real images are ${real.channels}×${real.imageSize}×${real.imageSize} but the extractor takes ${extractor.channels}×${extractor.imageSize}×${extractor.imageSize}`);
  }
  const nReal = Math.min(n, real.length);
  const indices = sampleWithoutReplacement(real.length, nReal, new Generator(seed ^ 0x5eed));
  indices.sort();
  const realOut = { features: makeFeatures(new Float32Array(nReal * FEATURE_DIM), nReal, FEATURE_DIM), logits: new Float32Array(nReal * extractor.net.shape.classes) };
  for (let start = 0; start < nReal; start += batchSize) {
    const part = embedDataset(extractor.net, real, indices.subarray(start, Math.min(nReal, start + batchSize)), batchSize);
    realOut.features.data.set(part.features.data, start * FEATURE_DIM);
    realOut.logits.set(part.logits, start * extractor.net.shape.classes);
    options.onProgress?.('real', Math.min(nReal, start + batchSize), nReal);
  }
  const labels = options.labels;
  if (labels !== undefined && labels.length !== n) throw new RangeError(`${labels.length} requested classes for ${n} samples`);
  const fake = embedGenerated(extractor, n, batchSize, options.sample, (done) => options.onProgress?.('samples', done, n), labels);
  options.onProgress?.('metrics', 0, 3);
  const sr = gaussianStats(realOut.features);
  const sf = gaussianStats(fake.features);
  const fid = frechetDistance(sr.mu, sr.sigma, sf.mu, sf.sigma);
  options.onProgress?.('metrics', 1, 3);
  const kid = kernelInceptionDistance(realOut.features, fake.features, { ...options.kid, seed });
  options.onProgress?.('metrics', 2, 3);
  const pr = precisionRecall(realOut.features, fake.features, { k: options.k ?? 3 });
  options.onProgress?.('metrics', 3, 3);
  const classes = extractor.classes;
  let score: number | null = null;
  let scoreReal: number | null = null;
  let hist: Record<string, number> | null = null;
  let histReal: Record<string, number> | null = null;
  let covered: number | null = null;
  let agreement: number | null = null;
  if (classes !== null) {
    const pf = softmax(fake.logits, classes.length);
    const pReal = softmax(realOut.logits, classes.length);
    score = classifierScore(pf, classes.length);
    scoreReal = classifierScore(pReal, classes.length);
    hist = histogram(pf, classes);
    histReal = histogram(pReal, classes);
    const threshold = n / classes.length / 5;
    covered = Object.values(hist).filter((c) => c >= threshold).length;
    if (labels !== undefined) {
      // How often the local classifier names the class the generator was asked for.
      let agree = 0;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < classes.length; c++) if (pf[i * classes.length + c]! > pf[i * classes.length + best]!) best = c;
        if (best === labels[i]) agree++;
      }
      agreement = agree / n;
    }
  }
  return {
    feature_extractor: extractorInfo(extractor),
    n_real: nReal,
    n_generated: n,
    fid_local: fid,
    kid_local: { mean: kid.mean, std: kid.std, subsets: kid.subsets, subset_size: kid.subsetSize },
    precision_local: pr.precision,
    recall_local: pr.recall,
    k: pr.k,
    classifier_score: score,
    classifier_score_real: scoreReal,
    class_histogram: hist,
    class_histogram_real: histReal,
    classes_covered: covered,
    conditional_accuracy: agreement,
    seconds: (performance.now() - started) / 1000,
  };
}
