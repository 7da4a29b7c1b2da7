import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError, FASHION_MNIST_DEFAULT_ROOT, openDataset, parseIdx, type IdxDataset } from '../../src/data/index.js';
import { idxBytes, minMax, readImage, tempDir } from './helpers.js';

const N = 5;
const S = 28;
// 0: all black, 1: all white, 2: pixel checkerboard, 3: left half white, 4: a ramp (x + y·28) mod 256.
const patterns: Array<(x: number, y: number) => number> = [
  () => 0,
  () => 255,
  (x, y) => ((x + y) % 2) * 255,
  (x) => (x < 14 ? 255 : 0),
  (x, y) => (x + y * S) % 256,
];
const pixelData: number[] = [];
for (const f of patterns) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) pixelData.push(f(x, y));
const LABELS = [3, 1, 4, 1, 5];

const root = tempDir();
const rawDir = join(root, 'raw');
const gzDir = join(root, 'gz');
mkdirSync(rawDir);
mkdirSync(gzDir);
writeFileSync(join(rawDir, 'train-images-idx3-ubyte'), idxBytes([N, S, S], pixelData));
writeFileSync(join(rawDir, 'train-labels-idx1-ubyte'), idxBytes([N], LABELS));
writeFileSync(join(gzDir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes([N, S, S], pixelData)));
writeFileSync(join(gzDir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes([N], LABELS)));

describe('IDX datasets (MNIST, Fashion-MNIST)', () => {
  for (const [label, dir] of [['raw', rawDir], ['gzipped', gzDir]] as const) {
    for (const name of ['fashion-mnist', 'mnist']) {
      it(`opens ${label} files as ${name}: count, labels, 0 → -1 and 255 → 1`, async () => {
        const ds = (await openDataset(name, { imageSize: 32, channels: 1, root: dir })) as IdxDataset;
        assert.equal(ds.name, name);
        assert.equal(ds.length, N);
        assert.equal(ds.imageSize, 32);
        assert.deepEqual(Array.from(ds.labels ?? []), LABELS);
        assert.deepEqual(minMax(readImage(ds, 0)), [-1, -1]);
        assert.deepEqual(minMax(readImage(ds, 1)), [1, 1]);
      });
    }
  }

  it('keeps pixels exactly at the native size 28 (value / 127.5 − 1)', async () => {
    const ds = await openDataset('mnist', { imageSize: 28, channels: 1, root: rawDir });
    const img = readImage(ds, 4);
    for (let p = 0; p < S * S; p++) assert.equal(img[p], Math.fround((p % 256) / 127.5 - 1));
  });

  it('repeats the grey plane into three channels', async () => {
    const ds = await openDataset('fashion-mnist', { imageSize: 32, channels: 3, root: gzDir });
    const img = readImage(ds, 3);
    const n = 32 * 32;
    assert.deepEqual(img.subarray(n, 2 * n), img.subarray(0, n));
    assert.deepEqual(img.subarray(2 * n), img.subarray(0, n));
  });

  it('upsamples 28 → 32 bilinearly (a step edge becomes a monotone ramp) and downsamples by area', async () => {
    const up = readImage(await openDataset('mnist', { imageSize: 32, channels: 1, root: rawDir }), 3);
    const row = Array.from(up.subarray(10 * 32, 11 * 32));
    assert.equal(row[0], 1);
    assert.equal(row[31], -1);
    for (let x = 1; x < 32; x++) assert.ok(row[x]! <= row[x - 1]!, 'row is not monotone');
    assert.ok(row.some((v) => v > -0.99 && v < 0.99), 'no interpolated values at the edge');
    // Area averaging of a pixel checkerboard by 2 gives exactly mid-grey (bilinear would not).
    const down = readImage(await openDataset('mnist', { imageSize: 14, channels: 1, root: rawDir }), 2);
    for (const v of down) assert.ok(Math.abs(v) < 1e-6, `checkerboard averaged to ${v}`);
  });

  it('finds files in torchvision-style subfolders (MNIST/raw)', async () => {
    const dir = join(root, 'tv');
    mkdirSync(join(dir, 'MNIST', 'raw'), { recursive: true });
    writeFileSync(join(dir, 'MNIST', 'raw', 'train-images-idx3-ubyte'), idxBytes([N, S, S], pixelData));
    const ds = await openDataset('mnist', { imageSize: 16, channels: 1, root: dir });
    assert.equal(ds.length, N);
    assert.equal((ds as IdxDataset).labels, undefined);
  });

  it('rejects a file with the wrong magic, a truncated file and corrupt gzip with DatasetError', async () => {
    for (const [sub, file, bytes, message] of [
      ['badmagic', 'train-images-idx3-ubyte', Buffer.from('GARBAGE DATA, NOT IDX'), /not an IDX file/],
      ['badtype', 'train-images-idx3-ubyte', Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), /type 0x0d/],
      ['truncated', 'train-images-idx3-ubyte', idxBytes([N, S, S], pixelData).subarray(0, 1000), /truncated/],
      ['badgz', 'train-images-idx3-ubyte.gz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]), /corrupt gzip/],
      ['twodims', 'train-images-idx3-ubyte', idxBytes([N, S * S], pixelData), /3 dimensions/],
    ] as const) {
      const dir = join(root, sub);
      mkdirSync(dir);
      writeFileSync(join(dir, file), bytes);
      await assert.rejects(openDataset('mnist', { imageSize: 32, channels: 1, root: dir }), (e: Error) => {
        assert.ok(e instanceof DatasetError, `${sub}: ${e}`);
        assert.match(e.message, message);
        return true;
      });
    }
  });

  it('parseIdx reads dims and data', () => {
    const parsed = parseIdx(idxBytes([2, 3], [1, 2, 3, 4, 5, 6]));
    assert.deepEqual(parsed.dims, [2, 3]);
    assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 6]);
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 8])), DatasetError);
  });

  it('ignores labels that do not match the images, with a warning', async () => {
    const dir = join(root, 'badlabels');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes([N, S, S], pixelData));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes([3], [1, 2, 3]));
    const warnings: string[] = [];
    const ds = (await openDataset('mnist', { imageSize: 32, channels: 1, root: dir, onWarning: (m) => warnings.push(m) })) as IdxDataset;
    assert.equal(ds.labels, undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /labels/);
  });

  it('says how to get Fashion-MNIST when it is missing, and what MNIST needs', async () => {
    await assert.rejects(openDataset('fashion-mnist', { imageSize: 32, channels: 1, root: join(root, 'nowhere') }), (e: Error) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, /apt-get install dataset-fashion-mnist/);
      assert.match(e.message, /--data-root DIR/);
      assert.ok(!e.message.includes('\n'), 'message is not one line');
      return true;
    });
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await assert.rejects(openDataset('fashion-mnist', { imageSize: 32, channels: 1, root: empty }), /apt-get install dataset-fashion-mnist/);
    await assert.rejects(openDataset('mnist', { imageSize: 32, channels: 1, root: empty }), {
      name: 'DatasetError',
      message: /train-images-idx3-ubyte.*--data-root|--data-root.*train-images-idx3-ubyte/,
    });
    await assert.rejects(openDataset('mnist', { imageSize: 32, channels: 1 }), { name: 'DatasetError', message: /--data-root DIR.*train-images-idx3-ubyte/ });
  });

  const installed = existsSync(join(FASHION_MNIST_DEFAULT_ROOT, 'train-images-idx3-ubyte.gz'));
  it('opens the Debian dataset-fashion-mnist package at its default location', installed ? {} : { skip: 'dataset-fashion-mnist not installed' }, async () => {
    const ds = (await openDataset('fashion-mnist', { imageSize: 32, channels: 1 })) as IdxDataset;
    assert.equal(ds.length, 60000);
    assert.equal(ds.labels?.length, 60000);
    assert.ok(ds.labels!.every((l) => l < 10));
    const img = readImage(ds, 0);
    const [lo, hi] = minMax(img);
    assert.ok(lo >= -1 && hi <= 1 && hi > lo, 'first garment is blank or out of range');
  });
});

describe('parseIdx with overflowing dimensions', () => {
  it('many huge dimensions and a zero: no data, dims kept, product exact (fuzz case: NaN length)', () => {
    const bytes = idxBytes([0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0x07070707, 0], []);
    const parsed = parseIdx(bytes, 'x');
    assert.equal(parsed.data.length, 0);
    assert.equal(parsed.dims.at(-1), 0);
  });
  it('huge dimensions without a zero are truncated, said in one short line', () => {
    const bytes = idxBytes(new Array(40).fill(0x07070707), [1, 2, 3]);
    assert.throws(() => parseIdx(bytes, 'x'), /^DatasetError: x is truncated: its header \(117901063×117901063×117901063×117901063×… \(40 dimensions\)\) needs more than 2\^53 data bytes but it has 3$/);
  });
});
