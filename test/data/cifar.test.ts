import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Cifar10Dataset, DatasetError, openDataset } from '../../src/data/index.js';
import { cifarRecord, minMax, readImage, tempDir } from './helpers.js';

const root = tempDir();
const red = cifarRecord(0, () => [255, 0, 0]);
const green = cifarRecord(1, () => [0, 255, 0]);
// Top half blue, bottom half white: checks row order.
const blueOverWhite = cifarRecord(9, (_x, y) => (y < 16 ? [0, 0, 255] : [255, 255, 255]));
const batch1 = Buffer.concat([red, green, blueOverWhite]);

const flat = join(root, 'flat');
mkdirSync(flat);
writeFileSync(join(flat, 'data_batch_1.bin'), batch1);

const plane = (img: Float32Array, c: number, size: number) => img.subarray(c * size * size, (c + 1) * size * size);

describe('CIFAR-10 binary batches', () => {
  it('reads records with the R plane first and labels, warning once about missing batches', async () => {
    const warnings: string[] = [];
    const ds = await openDataset('cifar10', { imageSize: 32, channels: 3, root: flat, onWarning: (m) => warnings.push(m) });
    assert.equal(ds.name, 'cifar10');
    assert.equal(ds.length, 3);
    assert.deepEqual(Array.from((ds as Cifar10Dataset).labels), [0, 1, 9]);
    const r = readImage(ds, 0);
    assert.deepEqual(minMax(plane(r, 0, 32)), [1, 1]);
    assert.deepEqual(minMax(plane(r, 1, 32)), [-1, -1]);
    assert.deepEqual(minMax(plane(r, 2, 32)), [-1, -1]);
    const g = readImage(ds, 1);
    assert.deepEqual(minMax(plane(g, 0, 32)), [-1, -1]);
    assert.deepEqual(minMax(plane(g, 1, 32)), [1, 1]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /1 of 5/);
  });

  it('keeps rows top to bottom', async () => {
    const ds = await openDataset('cifar10', { imageSize: 32, channels: 3, root: flat });
    const img = readImage(ds, 2);
    assert.equal(plane(img, 0, 32)[0], -1); // top-left: blue, so red is off
    assert.equal(plane(img, 2, 32)[0], 1);
    assert.equal(plane(img, 0, 32)[31 * 32], 1); // bottom-left: white
  });

  it('converts to grey with BT.601 luma and resizes', async () => {
    const gray = await openDataset('cifar10', { imageSize: 16, channels: 1, root: flat });
    const img = readImage(gray, 0);
    assert.equal(img.length, 256);
    for (const v of img) assert.ok(Math.abs(v - (0.299 * 2 - 1)) < 1e-5, `red in grey is ${v}`);
    const big = await openDataset('cifar10', { imageSize: 64, channels: 3, root: flat });
    assert.deepEqual(minMax(plane(readImage(big, 1), 1, 64)), [1, 1]);
  });

  it('accepts the cifar-10-batches-bin subfolder and concatenates batches in order', async () => {
    const dir = join(root, 'nested');
    mkdirSync(join(dir, 'cifar-10-batches-bin'), { recursive: true });
    writeFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin'), batch1);
    writeFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin'), green);
    const ds = (await openDataset('cifar10', { imageSize: 32, channels: 3, root: dir })) as Cifar10Dataset;
    assert.equal(ds.length, 4);
    assert.deepEqual(Array.from(ds.labels), [0, 1, 9, 1]);
    assert.deepEqual(minMax(plane(readImage(ds, 3), 1, 32)), [1, 1]);
  });

  it('rejects missing data and malformed batches with DatasetError', async () => {
    await assert.rejects(openDataset('cifar10', { imageSize: 32, channels: 3 }), { name: 'DatasetError', message: /--data-root/ });
    await assert.rejects(openDataset('cifar10', { imageSize: 32, channels: 3, root: join(root, 'nope') }), { name: 'DatasetError', message: /not found/ });
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await assert.rejects(openDataset('cifar10', { imageSize: 32, channels: 3, root: empty }), { name: 'DatasetError', message: /data_batch_1\.bin/ });
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'data_batch_1.bin'), batch1.subarray(0, 5000));
    await assert.rejects(openDataset('cifar10', { imageSize: 32, channels: 3, root: bad }), (e: Error) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, /3073/);
      return true;
    });
  });
});
