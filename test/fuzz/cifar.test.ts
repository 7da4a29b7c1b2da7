/** Fuzzing the CIFAR-10 binary batch reader, up to reading images: see harness.ts. */
import assert from 'node:assert/strict';
import { Cifar10Dataset, CIFAR_RECORD, DatasetError, parseCifarBatches } from '../../src/data/index.js';
import { cifarRecord } from '../data/helpers.js';
import { fuzzTest } from './harness.js';

const record = (label: number): Buffer => cifarRecord(label, (x, y) => [(x * 8) & 255, (y * 8) & 255, (x * y) & 255]);
const seeds = [record(3), Buffer.concat([record(0), record(9), record(5)])];
const out = new Float32Array(3 * 16 * 16);

fuzzTest<Cifar10Dataset>({
  name: 'cifar10',
  seeds,
  parse: (bytes) => {
    const { pixels, labels } = parseCifarBatches([bytes], ['fuzz_batch.bin']);
    const dataset = new Cifar10Dataset(pixels, labels, { imageSize: 16, channels: 3 });
    dataset.read(0, out);
    dataset.read(dataset.length - 1, out);
    return dataset;
  },
  allowedErrors: [DatasetError],
  check: (dataset, input) => {
    assert.equal(dataset.length * CIFAR_RECORD, input.length);
    for (let i = 0; i < dataset.length; i++) assert.equal(dataset.labels[i], input[i * CIFAR_RECORD]);
    for (const v of out) assert.ok(v >= -1 && v <= 1);
  },
  fields: () => [{ offset: 0, size: 1, littleEndian: true }],
  sections: (seed) => Array.from({ length: seed.length / CIFAR_RECORD }, (_, i): [number, number] => [i * CIFAR_RECORD, (i + 1) * CIFAR_RECORD]),
  iterations: 400,
});
