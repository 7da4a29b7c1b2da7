/**
 * Sample-quality metrics on feature vectors:
 *   - Fréchet distance of Gaussian fits (FID's formula: Heusel et al. 2017), in float64, the
 *     trace of the matrix square root through the symmetric form √(√Σ1·Σ2·√Σ1);
 *   - KID (Bińkowski et al. 2018): unbiased MMD² with the kernel k(x, y) = (xᵀy/d + 1)³,
 *     mean and standard deviation over random subsets (torch-fidelity's defaults: 100 of 1000);
 *   - precision and recall (Kynkäänniemi et al. 2019): the share of samples inside the other
 *     set's manifold, estimated as the union of k-nearest-neighbour balls;
 *   - the classifier score (exp E[KL(p(y|x) ‖ p(y))], the Inception Score's formula) and the
 *     class histogram of a classifier's predictions.
 * Which network produced the features is up to the caller; these are pure functions.
 */
import { Generator } from '../tensor/random.js';
import { checkFeatures, forEachDistanceBlock, innerProducts, pickRows, type Features } from './features.js';
import { matMul, symmetricEigen, symmetricSqrt, trace } from './linalg.js';

export interface GaussianStats {
  dim: number;
  /** Mean vector. */
  mu: Float64Array;
  /** Covariance (dim×dim, row-major), with the unbiased 1/(n − 1) normalisation (numpy.cov). */
  sigma: Float64Array;
}

/** Mean and covariance of the rows of `features`, in float64 (two passes: mean, then centred products). */
export function gaussianStats(features: Features): GaussianStats {
  checkFeatures(features, 'gaussianStats', 2);
  const { n, dim: d, data } = features;
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j]! += data[i * d + j]!;
  for (let j = 0; j < d; j++) mu[j]! /= n;
  const sigma = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = data[i * d + j]! - mu[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) sigma[base + b]! += ra * row[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = sigma[a * d + b]! / (n - 1);
      sigma[a * d + b] = v;
      sigma[b * d + a] = v;
    }
  }
  return { dim: d, mu, sigma };
}

/**
 * ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr √(√Σ1 Σ2 √Σ1). The last trace equals tr √(Σ1Σ2) (the two
 * products are similar matrices) but is the square root of a symmetric positive semi-definite
 * matrix, so an eigendecomposition gives it stably; eigenvalues below 0 from rounding count as 0.
 */
export function frechetDistance(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array): number {
  const d = mu1.length;
  if (mu2.length !== d || sigma1.length !== d * d || sigma2.length !== d * d) {
    throw new RangeError(`frechetDistance: sizes do not match (means ${mu1.length} and ${mu2.length}, covariances ${sigma1.length} and ${sigma2.length} values)`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (mu1[i]! - mu2[i]!) ** 2;
  const root1 = symmetricSqrt(sigma1, d);
  const inner = matMul(matMul(root1, sigma2, d), root1, d);
  const { values } = symmetricEigen(inner, d);
  let traceRoot = 0;
  for (const l of values) traceRoot += Math.sqrt(Math.max(l, 0));
  const fd = meanTerm + trace(sigma1, d) + trace(sigma2, d) - 2 * traceRoot;
  // Rounding can leave a tiny negative value for identical distributions.
  return fd < 0 && fd > -1e-9 * (trace(sigma1, d) + trace(sigma2, d) + 1) ? 0 : fd;
}

/** The Fréchet distance between the Gaussian fits of two feature sets. */
export function frechetDistanceOf(a: Features, b: Features): number {
  const sa = gaussianStats(a);
  const sb = gaussianStats(b);
  return frechetDistance(sa.mu, sa.sigma, sb.mu, sb.sigma);
}

export interface KidOptions {
  /** Number of random subsets (default 100). */
  subsets?: number;
  /** Vectors per subset from each set (default 1000, capped at the smaller set's size). */
  subsetSize?: number;
  seed?: number;
}

export interface KidResult {
  mean: number;
  /** Population standard deviation over the subsets (as torch-fidelity reports it). */
  std: number;
  subsets: number;
  subsetSize: number;
}

/** m distinct indices from [0, n), uniformly (a partial Fisher–Yates shuffle). */
export function sampleWithoutReplacement(n: number, m: number, rng: Generator): Uint32Array {
  const pool = new Uint32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng.nextFloat() * (n - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.slice(0, m);
}

/** Sum of (gᵢⱼ/d + 1)³ over a Gram block, optionally without its diagonal. */
function kernelSum(gram: Float32Array, m: number, d: number, skipDiagonal: boolean): number {
  let s = 0;
  for (let i = 0; i < gram.length; i++) {
    const v = gram[i]! / d + 1;
    s += v * v * v;
  }
  if (skipDiagonal) {
    for (let i = 0; i < m; i++) {
      const v = gram[i * m + i]! / d + 1;
      s -= v * v * v;
    }
  }
  return s;
}

/** Kernel Inception Distance's statistic on any features: unbiased MMD² with the cubic polynomial kernel. */
export function kernelInceptionDistance(a: Features, b: Features, options: KidOptions = {}): KidResult {
  checkFeatures(a, 'kernelInceptionDistance (first set)', 2);
  checkFeatures(b, 'kernelInceptionDistance (second set)', 2);
  if (a.dim !== b.dim) throw new RangeError(`kernelInceptionDistance: feature sizes ${a.dim} and ${b.dim} differ`);
  const subsets = options.subsets ?? 100;
  const m = Math.min(options.subsetSize ?? 1000, a.n, b.n);
  if (!Number.isInteger(subsets) || subsets < 1) throw new RangeError(`kernelInceptionDistance: subsets must be a positive integer, got ${subsets}`);
  if (!Number.isInteger(m) || m < 2) throw new RangeError(`kernelInceptionDistance: subset size must be at least 2, got ${m}`);
  const rng = new Generator(options.seed ?? 0);
  const d = a.dim;
  const values = new Float64Array(subsets);
  for (let s = 0; s < subsets; s++) {
    const x = pickRows(a, sampleWithoutReplacement(a.n, m, rng));
    const y = pickRows(b, sampleWithoutReplacement(b.n, m, rng));
    const kxx = kernelSum(innerProducts(x, x), m, d, true);
    const kyy = kernelSum(innerProducts(y, y), m, d, true);
    const kxy = kernelSum(innerProducts(x, y), m, d, false);
    values[s] = (kxx + kyy) / (m * (m - 1)) - (2 * kxy) / (m * m);
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= subsets;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  return { mean, std: Math.sqrt(variance / subsets), subsets, subsetSize: m };
}

/**
 * Squared distance from every row of `f` to its k-th nearest other row (the row itself, at
 * distance 0, is not counted), computed in blocks.
 */
export function kthNeighbourRadii(f: Features, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  checkFeatures(f, 'k-nearest-neighbour radii', k + 1);
  const radii = new Float64Array(f.n);
  const best = new Float64Array(k + 1);
  forEachDistanceBlock(f, f, (start, rows, block) => {
    for (let r = 0; r < rows; r++) {
      best.fill(Infinity);
      const base = r * f.n;
      for (let j = 0; j < f.n; j++) {
        const v = j === start + r ? 0 : block[base + j]!;
        if (v >= best[k]!) continue;
        let p = k;
        while (p > 0 && best[p - 1]! > v) {
          best[p] = best[p - 1]!;
          p--;
        }
        best[p] = v;
      }
      radii[start + r] = best[k]!;
    }
  });
  return radii;
}

/** Share of rows of `query` that lie within radii[i] (squared) of some row i of `support`. */
function coverage(query: Features, support: Features, radii: Float64Array): number {
  let inside = 0;
  forEachDistanceBlock(query, support, (_start, rows, block) => {
    for (let r = 0; r < rows; r++) {
      const base = r * support.n;
      for (let j = 0; j < support.n; j++) {
        if (block[base + j]! <= radii[j]!) {
          inside++;
          break;
        }
      }
    }
  });
  return inside / query.n;
}

export interface PrecisionRecall {
  /** Share of generated samples inside the real manifold. */
  precision: number;
  /** Share of real samples inside the generated manifold. */
  recall: number;
  k: number;
}

/** Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds (default k = 3). */
export function precisionRecall(real: Features, fake: Features, options: { k?: number } = {}): PrecisionRecall {
  const k = options.k ?? 3;
  if (real.dim !== fake.dim) throw new RangeError(`precisionRecall: feature sizes ${real.dim} and ${fake.dim} differ`);
  const realRadii = kthNeighbourRadii(real, k);
  const fakeRadii = kthNeighbourRadii(fake, k);
  return { precision: coverage(fake, real, realRadii), recall: coverage(real, fake, fakeRadii), k };
}

/** Row-wise softmax of logits (n × classes), in float64. */
export function softmax(logits: Float32Array | Float64Array, classes: number): Float64Array {
  const n = logits.length / classes;
  const out = new Float64Array(logits.length);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]!);
    let s = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(logits[i * classes + c]! - max);
      out[i * classes + c] = e;
      s += e;
    }
    for (let c = 0; c < classes; c++) out[i * classes + c] = out[i * classes + c]! / s;
  }
  return out;
}

/**
 * exp(mean over samples of KL(p(y|x) ‖ p(y))), p(y) the mean prediction: 1 when every sample
 * gets the same prediction, up to the number of classes for confident predictions spread evenly
 * over them (the Inception Score's formula, with the local classifier).
 */
export function classifierScore(probabilities: Float64Array, classes: number): number {
  const n = probabilities.length / classes;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`classifierScore: ${probabilities.length} values are not rows of ${classes} classes`);
  const marginal = new Float64Array(classes);
  for (let i = 0; i < n; i++) for (let c = 0; c < classes; c++) marginal[c]! += probabilities[i * classes + c]! / n;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) {
      const p = probabilities[i * classes + c]!;
      if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[c]!));
    }
  }
  return Math.exp(kl / n);
}

/** How many rows the classifier assigns to each class (argmax). */
export function classHistogram(probabilities: Float64Array | Float32Array, classes: number): number[] {
  const n = probabilities.length / classes;
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    counts[best] = counts[best]! + 1;
  }
  return counts;
}
