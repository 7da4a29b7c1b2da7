/**
 * Evaluation metrics on cases with known answers: the eigendecomposition, FID of Gaussians in
 * closed form (and against a square root computed another way), KID against its formula,
 * precision / recall on toy sets; then, in a small shapes classifier's feature space, FID and
 * KID growing with noise and blur, precision falling with noise samples, recall falling with
 * fewer classes; and `dcgan eval` / `dcgan sample --n` end to end on a tiny checkpoint.
 * The CLI tests use the built dist/ (`npm test` builds it; run `npm run build` first otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { ShapesDataset, hasLabels, openDataset } from '../src/data/index.js';
import {
  classHistogram,
  classifierScore,
  embedDataset,
  frechetDistance,
  frechetDistanceOf,
  gaussianStats,
  kernelInceptionDistance,
  loadFeatureExtractor,
  makeFeatures,
  matMul,
  precisionRecall,
  softmax,
  symmetricEigen,
  symmetricSqrt,
  trace,
  type FeatureExtractor,
  type Features,
} from '../src/eval/index.js';
import { saveImage } from '../src/io/png.js';
import { Generator } from '../src/tensor/random.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A random symmetric positive definite n×n matrix B·Bᵀ + εI. */
function randomSpd(n: number, rng: Generator, eps = 0.1): Float64Array {
  const b = new Float64Array(n * n);
  for (let i = 0; i < b.length; i++) b[i] = rng.nextNormal();
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += b[i * n + k]! * b[j * n + k]!;
      out[i * n + j] = s + (i === j ? eps : 0);
    }
  }
  return out;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = a[i * n + j]!;
  return out;
}

/** A random orthogonal matrix: the eigenvectors of a random symmetric matrix. */
function randomOrthogonal(n: number, rng: Generator): Float64Array {
  return symmetricEigen(randomSpd(n, rng), n).vectors;
}

/** Gauss–Jordan inverse with partial pivoting (test reference only). */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[pivot * n + col]!)) pivot = r;
    for (let k = 0; k < n; k++) {
      [m[col * n + k], m[pivot * n + k]] = [m[pivot * n + k]!, m[col * n + k]!];
      [inv[col * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[col * n + k]!];
    }
    const p = m[col * n + col]!;
    for (let k = 0; k < n; k++) {
      m[col * n + k] = m[col * n + k]! / p;
      inv[col * n + k] = inv[col * n + k]! / p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k] = m[r * n + k]! - f * m[col * n + k]!;
        inv[r * n + k] = inv[r * n + k]! - f * inv[col * n + k]!;
      }
    }
  }
  return inv;
}

/**
 * tr √(Σ1Σ2) by the Denman–Beavers iteration on the non-symmetric product (what scipy's sqrtm
 * computes, by another route): Y → √A, Z → √A⁻¹.
 */
function traceSqrtDenmanBeavers(s1: Float64Array, s2: Float64Array, n: number): number {
  let y = matMul(s1, s2, n);
  let z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  for (let it = 0; it < 60; it++) {
    const yi = inverse(y, n);
    const zi = inverse(z, n);
    const ny = y.map((v, i) => 0.5 * (v + zi[i]!));
    const nz = z.map((v, i) => 0.5 * (v + yi[i]!));
    y = ny;
    z = nz;
  }
  return trace(y, n);
}

function closeTo(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs expected ${expected} (tolerance ${tol})`);
}

describe('symmetric eigendecomposition (Jacobi)', () => {
  test('a 2×2 case by hand: [[2, 1], [1, 2]] has eigenvalues 1 and 3', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    closeTo(values[0]!, 1, 1e-15, 'λ0');
    closeTo(values[1]!, 3, 1e-15, 'λ1');
    closeTo(Math.abs(vectors[0]!), Math.SQRT1_2, 1e-15, 'v0');
  });

  test('A·V = V·Λ and VᵀV = I to 1e-12 on random symmetric matrices, eigenvalues ascending', () => {
    const rng = new Generator(1);
    for (const n of [1, 3, 10, 40]) {
      const a = randomSpd(n, rng);
      // Make it indefinite too.
      for (let i = 0; i < n; i++) a[i * n + i] = a[i * n + i]! - n;
      const { values, vectors } = symmetricEigen(a, n);
      const scale = Math.max(...Array.from(values, Math.abs));
      for (let k = 1; k < n; k++) assert.ok(values[k]! >= values[k - 1]!, 'ascending');
      const av = matMul(a, vectors, n);
      const vtv = matMul(transpose(vectors, n), vectors, n);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < n; k++) {
          closeTo(av[i * n + k]!, vectors[i * n + k]! * values[k]!, 1e-12 * scale, `n=${n} (A·V)[${i},${k}]`);
          closeTo(vtv[i * n + k]!, i === k ? 1 : 0, 1e-12, `n=${n} (VᵀV)[${i},${k}]`);
        }
      }
      closeTo(values.reduce((s, v) => s + v, 0), trace(a, n), 1e-10 * scale * n, 'sum of eigenvalues = trace');
    }
  });

  test('the square root squares back to the matrix; repeated eigenvalues are fine', () => {
    const rng = new Generator(2);
    const a = randomSpd(8, rng);
    const r = symmetricSqrt(a, 8);
    const rr = matMul(r, r, 8);
    for (let i = 0; i < 64; i++) closeTo(rr[i]!, a[i]!, 1e-10 * Math.abs(a[i]!) + 1e-10, `(√A)²[${i}]`);
    const identity = new Float64Array(16);
    for (let i = 0; i < 4; i++) identity[i * 4 + i] = 4;
    const { values } = symmetricEigen(identity, 4);
    assert.deepEqual(Array.from(values), [4, 4, 4, 4]);
  });
});

describe('Fréchet distance of Gaussians', () => {
  test('diagonal covariances: ‖μ1 − μ2‖² + Σ(√a − √b)²', () => {
    const mu1 = Float64Array.of(0, 1, 2, -1);
    const mu2 = Float64Array.of(1, 1, 0, -1);
    const a = [1, 4, 0.25, 2];
    const b = [9, 1, 0.25, 0.5];
    const diag = (v: number[]) => {
      const m = new Float64Array(16);
      v.forEach((x, i) => (m[i * 4 + i] = x));
      return m;
    };
    const expected = 1 + 4 + a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2, 0);
    closeTo(frechetDistance(mu1, diag(a), mu2, diag(b)), expected, 1e-12, 'FD');
  });

  test('commuting (same eigenvectors, rotated) covariances: the same closed form', () => {
    const n = 6;
    const rng = new Generator(3);
    const q = randomOrthogonal(n, rng);
    const a = [0.5, 1, 2, 3, 4, 5];
    const b = [2, 2, 0.1, 3, 1, 9];
    const rotated = (v: number[]) => {
      const d = new Float64Array(n * n);
      v.forEach((x, i) => (d[i * n + i] = x));
      return matMul(matMul(q, d, n), transpose(q, n), n);
    };
    const mu = new Float64Array(n);
    const expected = a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2, 0);
    closeTo(frechetDistance(mu, rotated(a), mu, rotated(b)), expected, 1e-10, 'FD');
  });

  test('non-commuting 2×2: tr √(Σ1Σ2) = √(tr(Σ1Σ2) + 2√det(Σ1Σ2))', () => {
    const s1 = Float64Array.of(2, 0.7, 0.7, 1);
    const s2 = Float64Array.of(1, -0.4, -0.4, 3);
    const p = matMul(s1, s2, 2);
    const det = p[0]! * p[3]! - p[1]! * p[2]!;
    const trRoot = Math.sqrt(p[0]! + p[3]! + 2 * Math.sqrt(det));
    const mu1 = Float64Array.of(0.5, -1);
    const mu2 = Float64Array.of(0, 0);
    const expected = 0.25 + 1 + 3 + 4 - 2 * trRoot;
    closeTo(frechetDistance(mu1, s1, mu2, s2), expected, 1e-12, 'FD');
  });

  test('non-commuting 7×7: matches a Denman–Beavers square root of Σ1Σ2 in float64', () => {
    const n = 7;
    const rng = new Generator(4);
    const s1 = randomSpd(n, rng, 0.5);
    const s2 = randomSpd(n, rng, 0.5);
    const mu = new Float64Array(n);
    const expected = trace(s1, n) + trace(s2, n) - 2 * traceSqrtDenmanBeavers(s1, s2, n);
    closeTo(frechetDistance(mu, s1, mu, s2), expected, 1e-9 * (trace(s1, n) + trace(s2, n)), 'FD');
    closeTo(frechetDistance(mu, s1, mu, s1), 0, 1e-9 * trace(s1, n), 'FD(P, P)');
  });

  test('gaussianStats: mean and unbiased covariance of the rows', () => {
    const f = makeFeatures(Float32Array.of(1, 2, 3, 6, 5, 10), 3, 2);
    const { mu, sigma } = gaussianStats(f);
    assert.deepEqual(Array.from(mu), [3, 6]);
    // x: 1 3 5 (var 4), y: 2 6 10 (var 16), cov 8.
    assert.deepEqual(Array.from(sigma), [4, 8, 8, 16]);
  });

  test('sampled Gaussians: the estimate approaches the closed form', () => {
    const rng = new Generator(5);
    const n = 20000;
    const d = 3;
    const data = new Float32Array(n * d);
    const other = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        data[i * d + j] = rng.nextNormal();
        other[i * d + j] = 2 * rng.nextNormal() + (j === 0 ? 1 : 0);
      }
    }
    // ‖μ‖² = 1, Σ(1 − 2)² = 3.
    closeTo(frechetDistanceOf(makeFeatures(data, n, d), makeFeatures(other, n, d)), 4, 0.15, 'FD');
  });
});

/** Direct float64 unbiased MMD² with the cubic kernel on whole sets (the test's reference). */
function mmdReference(x: Features, y: Features): number {
  const d = x.dim;
  const k = (a: Features, i: number, b: Features, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a.data[i * d + t]! * b.data[j * d + t]!;
    return (s / d + 1) ** 3;
  };
  const m = x.n;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(x, i, x, j);
        yy += k(y, i, y, j);
      }
      xy += k(x, i, y, j);
    }
  }
  return (xx + yy) / (m * (m - 1)) - (2 * xy) / (m * m);
}

function gaussianFeatures(n: number, d: number, rng: Generator, shift = 0, scale = 1): Features {
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) data[i] = scale * rng.nextNormal() + shift;
  return makeFeatures(data, n, d);
}

describe('kernel inception distance (unbiased MMD², cubic kernel)', () => {
  test('one subset of the whole set equals the formula computed directly', () => {
    const rng = new Generator(6);
    const x = gaussianFeatures(40, 5, rng);
    const y = gaussianFeatures(40, 5, rng, 0.3);
    const kid = kernelInceptionDistance(x, y, { subsets: 1, subsetSize: 40 });
    closeTo(kid.mean, mmdReference(x, y), 1e-5 * Math.abs(mmdReference(x, y)) + 1e-7, 'MMD²');
    assert.equal(kid.std, 0);
    assert.equal(kid.subsetSize, 40);
  });

  test('about 0 for one distribution (unbiased), clearly positive for a shifted one; subset size capped at n', () => {
    const rng = new Generator(7);
    const x = gaussianFeatures(600, 8, rng);
    const y = gaussianFeatures(600, 8, rng);
    const z = gaussianFeatures(600, 8, rng, 0.5);
    const same = kernelInceptionDistance(x, y, { subsets: 20, subsetSize: 300, seed: 1 });
    const shifted = kernelInceptionDistance(x, z, { subsets: 20, subsetSize: 300, seed: 1 });
    assert.ok(Math.abs(same.mean) < 3 * same.std + 1e-3, `same distribution: ${same.mean} ± ${same.std}`);
    assert.ok(shifted.mean > 10 * Math.abs(same.mean) && shifted.mean > 5 * shifted.std, `shifted: ${shifted.mean} ± ${shifted.std}`);
    assert.equal(kernelInceptionDistance(x, y, { subsets: 2 }).subsetSize, 600);
  });
});

describe('precision and recall (k-NN manifolds)', () => {
  test('identical sets: both 1; disjoint far-apart sets: both 0', () => {
    const rng = new Generator(8);
    const x = gaussianFeatures(200, 4, rng);
    const far = gaussianFeatures(200, 4, rng, 100);
    assert.deepEqual(precisionRecall(x, x), { precision: 1, recall: 1, k: 3 });
    const pr = precisionRecall(x, far);
    assert.equal(pr.precision, 0);
    assert.equal(pr.recall, 0);
  });

  test('a generated set that covers half of the real one: precision ≈ 1, recall ≈ 1/2', () => {
    // Real points on two far-apart clusters; generated points on one of them.
    const rng = new Generator(9);
    const a = gaussianFeatures(300, 2, rng);
    const b = gaussianFeatures(300, 2, rng, 50);
    const real = makeFeatures(Float32Array.from([...a.data, ...b.data]), 600, 2);
    const fake = gaussianFeatures(600, 2, rng);
    const pr = precisionRecall(real, fake);
    assert.ok(pr.precision > 0.9, `precision ${pr.precision}`);
    assert.ok(Math.abs(pr.recall - 0.5) < 0.05, `recall ${pr.recall}`);
  });
});

describe('classifier score and class histogram', () => {
  test('confident predictions spread over C classes score C; one class scores 1', () => {
    const logits = new Float32Array(40 * 4);
    for (let i = 0; i < 40; i++) logits[i * 4 + (i % 4)] = 60;
    const p = softmax(logits, 4);
    closeTo(classifierScore(p, 4), 4, 1e-9, 'spread');
    assert.deepEqual(classHistogram(p, 4), [10, 10, 10, 10]);
    const one = new Float32Array(40 * 4);
    for (let i = 0; i < 40; i++) one[i * 4 + 2] = 60;
    closeTo(classifierScore(softmax(one, 4), 4), 1, 1e-9, 'one class');
  });
});

// --- In a small classifier's feature space, on the built-in shapes --------------------------

const SIZE = 16;
const CHANNELS = 1;
const cache = mkdtempSync(join(tmpdir(), 'dcgan-eval-cache-'));
after(() => rmSync(cache, { recursive: true, force: true }));

/** A shapes classifier trained briefly (cached in the temporary folder for the CLI tests too). */
async function shapesExtractor(channels: 1 | 3 = CHANNELS): Promise<FeatureExtractor> {
  return loadFeatureExtractor('shapes', { imageSize: SIZE, channels, cacheDir: cache, training: { epochs: 1, maxImages: 3000, batchSize: 32 } });
}

function readAll(ds: ShapesDataset, count: number): Float32Array {
  const per = ds.channels * ds.imageSize * ds.imageSize;
  const out = new Float32Array(count * per);
  for (let i = 0; i < count; i++) ds.read(i, out, i * per);
  return out;
}

/** An in-memory labelled data set over given images (for perturbed copies). */
function memoryDataset(images: Float32Array, count: number, labels?: number[]) {
  const per = CHANNELS * SIZE * SIZE;
  return {
    name: 'memory',
    length: count,
    channels: CHANNELS as 1,
    imageSize: SIZE,
    classes: labels ? ['circle', 'square', 'triangle'] : undefined,
    label: labels ? (i: number) => labels[i]! : undefined,
    read(index: number, out: Float32Array, offset = 0) {
      out.set(images.subarray(index * per, (index + 1) * per), offset);
    },
  };
}

function embed(ex: FeatureExtractor, images: Float32Array, count: number): Features {
  return embedDataset(ex.net, memoryDataset(images, count), Array.from({ length: count }, (_, i) => i)).features;
}

function addNoise(images: Float32Array, sigma: number, seed: number): Float32Array {
  const rng = new Generator(seed);
  return images.map((v) => Math.max(-1, Math.min(1, v + sigma * rng.nextNormal())));
}

/** Box blur of radius r, applied per image plane. */
function blur(images: Float32Array, r: number): Float32Array {
  if (r === 0) return Float32Array.from(images);
  const out = new Float32Array(images.length);
  const plane = SIZE * SIZE;
  for (let p = 0; p < images.length / plane; p++) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        let s = 0;
        let c = 0;
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= SIZE || xx < 0 || xx >= SIZE) continue;
            s += images[p * plane + yy * SIZE + xx]!;
            c++;
          }
        }
        out[p * plane + y * SIZE + x] = s / c;
      }
    }
  }
  return out;
}

function assertIncreasing(values: number[], what: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `${what} should grow: ${values.map((v) => v.toFixed(5)).join(' → ')}`);
  }
}

describe('metrics in a shapes classifier\'s feature space', () => {
  let ex: FeatureExtractor;
  const N = 600;
  let realA: Features;
  let imagesB: Float32Array;
  let labelsB: number[];

  before(async () => {
    ex = await shapesExtractor();
    const a = new ShapesDataset({ imageSize: SIZE, channels: CHANNELS, seed: 11, length: N });
    const b = new ShapesDataset({ imageSize: SIZE, channels: CHANNELS, seed: 12, length: 3 * N });
    realA = embed(ex, readAll(a, N), N);
    imagesB = readAll(b, 3 * N);
    labelsB = Array.from({ length: 3 * N }, (_, i) => b.label(i));
  });

  test('the classifier learned the shapes (test accuracy recorded, ≥ 95%)', () => {
    assert.equal(ex.kind, 'trained-classifier');
    assert.ok(ex.testAccuracy !== null && ex.testAccuracy >= 0.95, `test accuracy ${ex.testAccuracy}`);
    assert.match(ex.id, /^shapes-16x1-cnn-[0-9a-f]{8}$/);
    assert.deepEqual(ex.classes, ['circle', 'square', 'triangle']);
  });

  test('the cache: a second load reads the same weights (same id) without training', async () => {
    const again = await shapesExtractor();
    assert.equal(again.trained, false);
    assert.equal(again.id, ex.id);
    assert.equal(again.testAccuracy, ex.testAccuracy);
  });

  test('real vs real: FID of two independent sets is small against perturbed ones', () => {
    const realB = embed(ex, imagesB, N);
    const fidSame = frechetDistanceOf(realA, realB);
    const fidNoisy = frechetDistanceOf(realA, embed(ex, addNoise(imagesB, 0.3, 1), N));
    const sa = gaussianStats(realA);
    const spread = trace(sa.sigma, sa.dim);
    // Near 0: a small share of the features' total variance (the finite-sample bias of 600 vs 600 in 128-d).
    assert.ok(fidSame < 0.02 * 2 * spread, `real vs real ${fidSame}, total variance ${spread}`);
    assert.ok(fidSame < 0.25 * fidNoisy, `real vs real ${fidSame}, vs noisy ${fidNoisy}`);
    const kidSame = kernelInceptionDistance(realA, realB, { subsets: 20, subsetSize: 300 });
    assert.ok(Math.abs(kidSame.mean) < 3 * kidSame.std + 1e-4, `KID real vs real ${kidSame.mean} ± ${kidSame.std}`);
  });

  test('FID and KID grow monotonically with noise', () => {
    const fid: number[] = [];
    const kid: number[] = [];
    for (const sigma of [0, 0.1, 0.25, 0.5, 1]) {
      const f = embed(ex, addNoise(imagesB.subarray(0, N * SIZE * SIZE), sigma, 2), N);
      fid.push(frechetDistanceOf(realA, f));
      kid.push(kernelInceptionDistance(realA, f, { subsets: 10, subsetSize: 300 }).mean);
    }
    assertIncreasing(fid, 'FID under noise');
    assertIncreasing(kid, 'KID under noise');
  });

  test('FID and KID grow monotonically with blur', () => {
    const fid: number[] = [];
    const kid: number[] = [];
    for (const r of [0, 1, 2, 3]) {
      const f = embed(ex, blur(imagesB.subarray(0, N * SIZE * SIZE), r), N);
      fid.push(frechetDistanceOf(realA, f));
      kid.push(kernelInceptionDistance(realA, f, { subsets: 10, subsetSize: 300 }).mean);
    }
    assertIncreasing(fid, 'FID under blur');
    assertIncreasing(kid, 'KID under blur');
  });

  test('precision falls when half of the samples are noise (recall does not)', () => {
    const clean = imagesB.slice(0, N * SIZE * SIZE);
    const half = Float32Array.from(clean);
    const rng = new Generator(3);
    for (let i = (N / 2) * SIZE * SIZE; i < half.length; i++) half[i] = 2 * rng.nextFloat() - 1;
    const prClean = precisionRecall(realA, embed(ex, clean, N));
    const prHalf = precisionRecall(realA, embed(ex, half, N));
    assert.ok(prClean.precision > 0.6, `clean precision ${prClean.precision}`);
    assert.ok(prHalf.precision < 0.65 * prClean.precision, `precision ${prClean.precision} → ${prHalf.precision}`);
  });

  test('recall falls when the samples cover few classes (precision does not)', () => {
    const per = SIZE * SIZE;
    const pick = (keep: (label: number) => boolean) => {
      const out = new Float32Array(N * per);
      let n = 0;
      for (let i = 0; i < labelsB.length && n < N; i++) {
        if (!keep(labelsB[i]!)) continue;
        out.set(imagesB.subarray(i * per, (i + 1) * per), n * per);
        n++;
      }
      assert.equal(n, N);
      return out;
    };
    const all = precisionRecall(realA, embed(ex, pick(() => true), N));
    const circles = precisionRecall(realA, embed(ex, pick((l) => l === 0), N));
    assert.ok(circles.recall < 0.6 * all.recall, `recall ${all.recall} → ${circles.recall} with circles only`);
    assert.ok(circles.precision > 0.6, `precision with circles only ${circles.precision}`);
  });

  test('the class histogram of circles-only samples has one class', () => {
    const circles: number[] = [];
    for (let i = 0; i < labelsB.length; i++) if (labelsB[i] === 0) circles.push(i);
    const ds = memoryDataset(imagesB, labelsB.length, labelsB);
    const { logits } = embedDataset(ex.net, ds, circles.slice(0, 200));
    const hist = classHistogram(softmax(logits, 3), 3);
    assert.ok(hist[0]! >= 190, `histogram ${hist}`);
    assert.ok(classifierScore(softmax(logits, 3), 3) < 1.2);
  });
});

describe('data labels', () => {
  test('shapes, and Fashion-MNIST (train and test split) where installed, have classes and labels', async () => {
    const shapes = await openDataset('shapes', { imageSize: 16, channels: 1, length: 10 });
    assert.ok(hasLabels(shapes));
    assert.deepEqual(shapes.classes, ['circle', 'square', 'triangle']);
    const test = await openDataset('shapes', { imageSize: 16, channels: 1, length: 10, split: 'test' });
    assert.notDeepEqual(
      Array.from({ length: 10 }, (_, i) => test.label!(i)).join() + readAll(test as ShapesDataset, 1).join(),
      Array.from({ length: 10 }, (_, i) => shapes.label!(i)).join() + readAll(shapes as ShapesDataset, 1).join(),
    );
    if (existsSync('/usr/share/datasets/fashion-mnist')) {
      const fm = await openDataset('fashion-mnist', { imageSize: 16, channels: 1, split: 'test' });
      assert.equal(fm.length, 10000);
      assert.ok(hasLabels(fm));
      assert.equal(fm.classes[7], 'Sneaker');
      assert.ok(fm.label(0) >= 0 && fm.label(0) < 10);
    }
  });
});

describe('labels and test splits from files (synthetic)', () => {
  function idx(type: 1 | 3, dims: number[], data: number[]): Buffer {
    const header = Buffer.alloc(4 + 4 * dims.length);
    header[2] = 0x08;
    header[3] = type;
    dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([header, Buffer.from(data)]);
  }

  test('MNIST-layout t10k files: --split test reads them with their labels; the digits are the classes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcgan-eval-idx-'));
    try {
      writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx(3, [2, 2, 2], new Array(8).fill(0)));
      writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(1, [2], [3, 4]));
      writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx(3, [3, 2, 2], new Array(12).fill(255)));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx(1, [3], [7, 0, 9]));
      const train = await openDataset('mnist', { imageSize: 16, channels: 1, root: dir });
      const test = await openDataset('mnist', { imageSize: 16, channels: 1, root: dir, split: 'test' });
      assert.equal(train.length, 2);
      assert.equal(test.length, 3);
      assert.ok(hasLabels(test));
      assert.deepEqual([0, 1, 2].map((i) => test.label(i)), [7, 0, 9]);
      assert.equal(test.classes[9], '9');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CIFAR-10 test_batch.bin: --split test, with the ten class names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcgan-eval-cifar-'));
    try {
      const record = (label: number) => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, 128)]);
      writeFileSync(join(dir, 'data_batch_1.bin'), Buffer.concat([record(1), record(2)]));
      writeFileSync(join(dir, 'test_batch.bin'), Buffer.concat([record(9), record(3), record(5)]));
      const test = await openDataset('cifar10', { imageSize: 16, channels: 3, root: dir, split: 'test' });
      assert.equal(test.length, 3);
      assert.ok(hasLabels(test));
      assert.deepEqual([0, 1, 2].map((i) => test.classes[test.label(i)]), ['truck', 'cat', 'dog']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('unlabelled image folders: the random-feature fallback', () => {
  test('a folder gets a random-weight CNN with its caveat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcgan-eval-folder-'));
    try {
      const shapes = new ShapesDataset({ imageSize: 16, channels: 3, length: 12 });
      for (let i = 0; i < 12; i++) {
        const data = new Float32Array(3 * 16 * 16);
        shapes.read(i, data);
        saveImage(join(dir, `img${i}.png`), { shape: [1, 3, 16, 16], data }, 0);
      }
      const ex = await loadFeatureExtractor(dir, { imageSize: 16, channels: 3, cacheDir: cache });
      assert.equal(ex.kind, 'random-cnn');
      assert.equal(ex.classes, null);
      assert.match(ex.id, /^folder-16x3-random-cnn-[0-9a-f]{8}$/);
      assert.match(ex.caveat ?? '', /random weights/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// --- The CLI ------------------------------------------------------------------------------

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function dcgan(args: string[], env: Record<string, string> = {}): Run {
  const result = spawnSync(process.execPath, ['bin/dcgan.js', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, DCGAN_DEBUG: '', NO_COLOR: '1', ...env },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('dcgan eval and dcgan sample on a tiny checkpoint', () => {
  const work = mkdtempSync(join(tmpdir(), 'dcgan-eval-cli-'));
  const run = join(work, 'run');
  after(() => rmSync(work, { recursive: true, force: true }));

  before(async () => {
    const trained = dcgan(['train', '--threads', '1', '--image-size', '16', '--ngf', '8', '--ndf', '8', '--batch-size', '8', '--steps', '4', '--out', run, '--json']);
    assert.equal(trained.status, 0, trained.stderr);
    // The CLI finds the 16×16×3 shapes classifier in the cache instead of training the full one.
    await shapesExtractor(3);
  });

  test('--json: one line per phase and one result with every metric, named _local', () => {
    const r = dcgan(['eval', '--checkpoint', run, '--data', 'shapes', '--n', '80', '--batch-size', '32', '--threads', '1', '--json'], { DCGAN_CACHE_DIR: cache });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const phases = events.filter((e) => e['event'] === 'phase').map((e) => e['phase']);
    assert.deepEqual(phases, ['real', 'samples', 'metrics']);
    assert.ok(events.filter((e) => e['event'] === 'phase').every((e) => typeof e['seconds'] === 'number'));
    const result = events.find((e) => e['event'] === 'result')!;
    for (const key of ['fid_local', 'precision_local', 'recall_local', 'classifier_score']) assert.equal(typeof result[key], 'number', key);
    assert.ok(!('fid' in result));
    const kid = result['kid_local'] as Record<string, number>;
    assert.equal(typeof kid['mean'], 'number');
    assert.equal(typeof kid['std'], 'number');
    const extractor = result['feature_extractor'] as Record<string, unknown>;
    assert.match(String(extractor['id']), /^shapes-16x3-cnn-[0-9a-f]{8}$/);
    assert.equal(typeof extractor['test_accuracy'], 'number');
    const hist = result['class_histogram'] as Record<string, number>;
    assert.deepEqual(Object.keys(hist), ['circle', 'square', 'triangle']);
    assert.equal(Object.values(hist).reduce((a, b) => a + b, 0), 80);
    assert.equal(result['n_generated'], 80);
  });

  test('plain output names the metrics and the extractor; --data defaults to the checkpoint\'s', () => {
    const r = dcgan(['eval', '--checkpoint', run, '--n', '40', '--threads', '1'], { DCGAN_CACHE_DIR: cache });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['feature_extractor', 'fid_local', 'kid_local', 'precision_local', 'recall_local', 'classifier_score', 'class_histogram']) {
      assert.match(r.stdout, new RegExp(`^${name} `, 'm'));
    }
  });

  test('errors are one line naming the flag or file', () => {
    const missing = dcgan(['eval', '--checkpoint', join(work, 'nope'), '--n', '10'], { DCGAN_CACHE_DIR: cache });
    assert.notEqual(missing.status, 0);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    assert.match(missing.stderr, /nope/);
    const badN = dcgan(['eval', '--checkpoint', run, '--n', '1'], { DCGAN_CACHE_DIR: cache });
    assert.notEqual(badN.status, 0);
    assert.match(badN.stderr, /--n/);
    const badData = dcgan(['eval', '--checkpoint', run, '--data', join(work, 'nodata'), '--n', '10'], { DCGAN_CACHE_DIR: cache });
    assert.notEqual(badData.status, 0);
    assert.equal(badData.stderr.trim().split('\n').length, 1, badData.stderr);
    assert.match(badData.stderr, /nodata/);
  });

  test('a PyTorch netG.pth and a weights file (dcgan export / import of the run) score exactly as the checkpoint; they need --data', () => {
    const pth = join(work, 'netG.pth');
    const weights = join(work, 'weights.safetensors');
    const exported = dcgan(['export', '--checkpoint', run, '--format', 'pytorch', '--out', pth]);
    assert.equal(exported.status, 0, exported.stderr);
    const imported = dcgan(['import', pth, '--out', weights]);
    assert.equal(imported.status, 0, imported.stderr);
    const result = (checkpoint: string): Record<string, unknown> => {
      const r = dcgan(['eval', '--checkpoint', checkpoint, '--data', 'shapes', '--n', '40', '--batch-size', '16', '--seed', '3', '--threads', '1', '--json'], { DCGAN_CACHE_DIR: cache });
      assert.equal(r.status, 0, r.stderr);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      return events.find((e) => e['event'] === 'result')!;
    };
    const metrics = (r: Record<string, unknown>) => ({ fid: r['fid_local'], kid: r['kid_local'], p: r['precision_local'], rec: r['recall_local'], hist: r['class_histogram'] });
    const fromCheckpoint = result(run);
    assert.equal(fromCheckpoint['source'], 'checkpoint');
    assert.equal(fromCheckpoint['step'], 4);
    for (const file of [pth, weights]) {
      const r = result(file);
      assert.equal(r['source'], file === pth ? 'pytorch' : 'weights');
      assert.equal(r['step'], null);
      assert.equal(r['weights'], 'raw');
      assert.deepEqual(metrics(r), metrics(fromCheckpoint), file);
    }
    const noData = dcgan(['eval', '--checkpoint', pth, '--n', '10'], { DCGAN_CACHE_DIR: cache });
    assert.notEqual(noData.status, 0);
    assert.equal(noData.stderr.trim().split('\n').length, 1, noData.stderr);
    assert.match(noData.stderr, /--data is required.*netG\.pth/);
  });

  test('dcgan sample --n 3000 generates in batches: the grid and every individual image', () => {
    const grid = join(work, 'grid.png');
    const dir = join(work, 'individual');
    mkdirSync(dir, { recursive: true });
    const r = dcgan(['sample', '--checkpoint', run, '--n', '3000', '--batch-size', '128', '--seed', '1', '--out', grid, '--individual', dir, '--threads', '1', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const png = PNG.sync.read(readFileSync(grid));
    // make_grid: 8 per row, 16 px images, 2 px padding → 8·18 + 2 wide, 375·18 + 2 high.
    assert.equal(png.width, 8 * 18 + 2);
    assert.equal(png.height, 375 * 18 + 2);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.png')).length, 3000);
    // The same seed gives the same images whatever the batch size.
    const small = join(work, 'small.png');
    const r2 = dcgan(['sample', '--checkpoint', run, '--n', '20', '--batch-size', '7', '--seed', '1', '--out', small, '--threads', '1']);
    assert.equal(r2.status, 0, r2.stderr);
    const r3 = dcgan(['sample', '--checkpoint', run, '--n', '20', '--batch-size', '20', '--seed', '1', '--out', join(work, 'one.png'), '--threads', '1']);
    assert.equal(r3.status, 0, r3.stderr);
    const a = PNG.sync.read(readFileSync(small)).data;
    const b = PNG.sync.read(readFileSync(join(work, 'one.png'))).data;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    assert.ok(maxDiff <= 1, `batch size changed pixels by ${maxDiff}`);
  });
});
