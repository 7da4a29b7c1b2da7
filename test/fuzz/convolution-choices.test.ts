/** Fuzzing the cache file of timed convolution choices (src/io/convolution-choices.ts): see harness.ts. It never throws; what it keeps is well formed. */
import assert from 'node:assert/strict';
import '../../src/index.js';
import { CONVOLUTION_CHOICES_FILE_VERSION, parseConvolutionChoicesFile } from '../../src/io/convolution-choices.js';
import { parseConvolutionChoice } from '../../src/ops/conv-algorithm.js';
import { fuzzTest } from './harness.js';

const choice = {
  backend: 'native', threads: 2, pass: 'convolve', withWeightGrad: true, k: 512, algorithm: 'gemm', variant: 0, directMs: 33.9, gemmMs: 30.2,
  geometry: { n: 64, c: 256, h: 8, w: 8, kh: 4, kw: 4, strideH: 2, strideW: 2, padH: 1, padW: 1, outH: 4, outW: 4 },
};
const file = (machines: Record<string, unknown[]>): Buffer => Buffer.from(JSON.stringify({ version: CONVOLUTION_CHOICES_FILE_VERSION, machines }, null, 1));
const seeds = [
  file({ 'Intel(R) Xeon(R) ×2 | native: OpenBLAS': [choice, { ...choice, pass: 'adjoint', withWeightGrad: false, algorithm: 'direct', directMs: 13.3 }] }),
  file({ a: [{ ...choice, directMs: null }], b: [] }),
  file({ c: [{ ...choice, pass: 'weights', withWeightGrad: false, algorithm: 'direct', variant: 5, rectified: true }] }),
];

fuzzTest<Map<string, unknown[]>>({
  name: 'convolution-choices',
  seeds,
  parse: (bytes) => parseConvolutionChoicesFile(new TextDecoder().decode(bytes)),
  allowedErrors: [],
  check: (machines) => {
    for (const list of machines.values()) for (const c of list) assert.deepEqual(parseConvolutionChoice(JSON.parse(JSON.stringify(c))), c, 'a kept choice is a valid one');
  },
  iterations: 400,
});
