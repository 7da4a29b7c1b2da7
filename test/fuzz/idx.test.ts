/** Fuzzing the MNIST / Fashion-MNIST IDX reader (plain and gzipped), up to reading images: see harness.ts. */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { DatasetError, decodeIdxFile, IdxDataset, type IdxArray } from '../../src/data/index.js';
import { idxBytes } from '../data/helpers.js';
import { fuzzTest, type FuzzField } from './harness.js';

const images = idxBytes([3, 5, 4], Array.from({ length: 60 }, (_, i) => (i * 37) & 255));
const mnistLike = idxBytes([1, 28, 28], new Array(784).fill(7));
const seeds = [images, idxBytes([3], [1, 2, 3]), gzipSync(images), idxBytes([2, 3, 3], new Array(18).fill(200)), mnistLike, gzipSync(mnistLike)];

interface Parsed {
  array: IdxArray;
  dataset: IdxDataset | null;
}

const out = new Float32Array(3 * 16 * 16);

fuzzTest<Parsed>({
  name: 'idx',
  seeds,
  parse: (bytes) => {
    const array = decodeIdxFile(bytes, 'fuzz-idx3-ubyte');
    let dataset: IdxDataset | null = null;
    if (array.dims.length === 3) {
      // As openIdxDataset uses an images file: build the dataset and read its first and last image.
      dataset = new IdxDataset('fuzz', array.data, array.dims, { imageSize: 16, channels: 3 });
      dataset.read(0, out);
      dataset.read(dataset.length - 1, out);
    }
    return { array, dataset };
  },
  allowedErrors: [DatasetError],
  check: ({ array, dataset }) => {
    const product = array.dims.includes(0) ? 0 : array.dims.reduce((a, b) => a * b, 1);
    assert.equal(array.data.length, product, 'data length = product of dims');
    if (dataset !== null) {
      assert.equal(dataset.length, array.dims[0]);
      for (const v of out) assert.ok(v >= -1 && v <= 1, `pixel ${v} outside [-1, 1]`);
    }
  },
  fields: (seed) => {
    if (seed[0] === 0x1f) return [];
    const fields: FuzzField[] = [{ offset: 3, size: 1, littleEndian: false }];
    for (let d = 0; d < seed[3]!; d++) fields.push({ offset: 4 + 4 * d, size: 4, littleEndian: false });
    return fields;
  },
  sections: (seed) => {
    if (seed[0] === 0x1f) return [];
    const head = 4 + 4 * seed[3]!;
    const n = seed.length >= 8 ? new DataView(seed.buffer, seed.byteOffset).getUint32(4, false) : 0;
    const per = n > 0 ? (seed.length - head) / n : 0;
    const sections: Array<[number, number]> = [[0, head]];
    for (let i = 0; i < n && per > 0; i++) sections.push([head + i * per, head + (i + 1) * per]);
    return sections;
  },
  iterations: 1000,
});
