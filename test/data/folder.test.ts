import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { DatasetError, decodeImage, listImageFiles, openDataset, type ImageFolderDataset } from '../../src/data/index.js';
import { encodePng, idxBytes, minMax, pixels, readImage, tempDir } from './helpers.js';

const root = tempDir();
const dir = join(root, 'images');
mkdirSync(join(dir, 'a', 'b'), { recursive: true });
mkdirSync(join(dir, 'c'));
mkdirSync(join(dir, '.hidden'));

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];

// RGB 20×20 pure red.
writeFileSync(join(dir, 'a', 'red.png'), encodePng({ width: 20, height: 20, colorType: 2, samples: pixels(20, 20, () => RED) }));
// RGBA 16×16: left half opaque white, right half fully transparent white (→ black over black).
writeFileSync(
  join(dir, 'a', 'b', 'alpha.png'),
  encodePng({ width: 16, height: 16, colorType: 6, samples: pixels(16, 16, (x) => [255, 255, 255, x < 8 ? 255 : 0]) }),
);
// Grey 8-bit, value 200.
writeFileSync(join(dir, 'c', 'gray.png'), encodePng({ width: 12, height: 12, colorType: 0, samples: pixels(12, 12, () => [200]) }));
// 16-bit RGB, (65535, 32896, 0) ≈ (255, 128, 0).
writeFileSync(
  join(dir, 'c', 'deep16.png'),
  encodePng({ width: 16, height: 16, colorType: 2, bitDepth: 16, samples: pixels(16, 16, () => [65535, 32896, 0]) }),
);
// Palette: stripes of two colours, top half index 0 (blue), bottom index 1 (green).
writeFileSync(
  join(dir, 'palette.png'),
  encodePng({ width: 16, height: 16, colorType: 3, palette: [[0, 0, 255], [0, 255, 0]], samples: pixels(16, 16, (_x, y) => [y < 8 ? 0 : 1]) }),
);
// Wide 32×16: left 8 columns red, middle 16 green, right 8 blue — the centre crop keeps only green.
writeFileSync(
  join(dir, 'wide.png'),
  encodePng({ width: 32, height: 16, colorType: 2, samples: pixels(32, 16, (x) => (x < 8 ? RED : x >= 24 ? BLUE : GREEN)) }),
);
// A JPEG (upper-case extension), mid-grey with jpeg-js's encoder.
const jpg = jpeg.encode({ width: 24, height: 24, data: Buffer.from(pixels(24, 24, () => [128, 128, 128, 255])) }, 95);
writeFileSync(join(dir, 'c', 'photo.JPG'), jpg.data);
// Not images, or not readable: a corrupt PNG, a text file, a hidden image.
writeFileSync(join(dir, 'c', 'corrupt.png'), Buffer.from('this is not a png at all'));
writeFileSync(join(dir, 'notes.txt'), 'hello');
writeFileSync(join(dir, '.hidden', 'secret.png'), encodePng({ width: 4, height: 4, colorType: 0, samples: pixels(4, 4, () => [0]) }));

const EXPECTED = ['a/b/alpha.png', 'a/red.png', 'c/deep16.png', 'c/gray.png', 'c/photo.JPG', 'palette.png', 'wide.png'];

async function open(imageSize: number, channels: 1 | 3, warnings: string[] = []): Promise<ImageFolderDataset> {
  return (await openDataset(dir, { imageSize, channels, onWarning: (m) => warnings.push(m) })) as ImageFolderDataset;
}

function image(ds: ImageFolderDataset, file: string): Float32Array {
  const i = ds.files.indexOf(file);
  assert.ok(i >= 0, `${file} was not loaded`);
  return readImage(ds, i);
}

function planeRange(img: Float32Array, c: number, size: number): [number, number] {
  return minMax(img.subarray(c * size * size, (c + 1) * size * size));
}

const near = (a: number, b: number, tol = 0.01) => Math.abs(a - b) <= tol;

describe('image folder dataset', () => {
  it('lists images recursively, sorted, skipping other extensions and hidden names', async () => {
    assert.deepEqual(await listImageFiles(dir), [...EXPECTED.slice(0, 2), 'c/corrupt.png', ...EXPECTED.slice(2)]);
  });

  it('loads every readable image and warns once about the corrupt one', async () => {
    const warnings: string[] = [];
    const ds = await open(16, 3, warnings);
    assert.equal(ds.length, EXPECTED.length);
    assert.deepEqual(ds.files, EXPECTED);
    assert.equal(ds.name, dir);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /skipped 1 unreadable file \(c\/corrupt\.png\)/);
  });

  it('decodes RGB, RGBA (over black), grey, 16-bit and palette PNGs and JPEGs', async () => {
    const ds = await open(16, 3);
    const red = image(ds, 'a/red.png');
    assert.deepEqual(planeRange(red, 0, 16), [1, 1]);
    assert.deepEqual(planeRange(red, 1, 16), [-1, -1]);
    const alpha = image(ds, 'a/b/alpha.png');
    for (let c = 0; c < 3; c++) {
      assert.equal(alpha[c * 256 + 3 * 16 + 2], 1, 'opaque white stays white');
      assert.equal(alpha[c * 256 + 3 * 16 + 13], -1, 'transparent pixels become black');
    }
    const gray = image(ds, 'c/gray.png');
    for (let c = 0; c < 3; c++) for (const v of planeRange(gray, c, 16)) assert.ok(near(v, 200 / 127.5 - 1));
    const deep = image(ds, 'c/deep16.png');
    assert.deepEqual(planeRange(deep, 0, 16), [1, 1]);
    for (const v of planeRange(deep, 1, 16)) assert.ok(near(v, 128 / 127.5 - 1), `16-bit green is ${v}`);
    assert.deepEqual(planeRange(deep, 2, 16), [-1, -1]);
    const pal = image(ds, 'palette.png');
    assert.equal(pal[2 * 256 + 0], 1, 'top is blue');
    assert.equal(pal[1 * 256 + 15 * 16], 1, 'bottom is green');
    assert.equal(pal[2 * 256 + 15 * 16], -1);
    const photo = image(ds, 'c/photo.JPG');
    for (const v of photo) assert.ok(near(v, 128 / 127.5 - 1, 0.05), `JPEG grey is ${v}`);
  });

  it('centre-crops a non-square image, cutting the left and right borders', async () => {
    const ds = await open(16, 3);
    const wide = image(ds, 'wide.png');
    assert.deepEqual(planeRange(wide, 0, 16), [-1, -1], 'red border survived the crop');
    assert.deepEqual(planeRange(wide, 1, 16), [1, 1]);
    assert.deepEqual(planeRange(wide, 2, 16), [-1, -1], 'blue border survived the crop');
  });

  it('resizes to the image size: area averaging down, bilinear up', async () => {
    const small = await open(8, 3);
    assert.equal(readImage(small, 0).length, 3 * 64);
    // alpha.png 16 → 8: the white/black boundary falls on an 8-pixel boundary, so halves stay pure.
    const a = image(small, 'a/b/alpha.png');
    assert.equal(a[3 * 8 + 3], 1);
    assert.equal(a[3 * 8 + 4], -1);
    const big = await open(32, 1);
    const b = image(big, 'a/b/alpha.png');
    const row = Array.from(b.subarray(5 * 32, 6 * 32));
    assert.equal(row[0], 1);
    assert.equal(row[31], -1);
    for (let x = 1; x < 32; x++) assert.ok(row[x]! <= row[x - 1]!);
    assert.ok(row.some((v) => v > -0.9 && v < 0.9), 'no interpolated values at the edge');
  });

  it('converts colour to grey with BT.601 luma', async () => {
    const ds = await open(16, 1);
    const red = image(ds, 'a/red.png');
    assert.equal(red.length, 256);
    for (const v of red) assert.ok(near(v, (0.299 * 255) / 127.5 - 1), `red in grey is ${v}`);
    const wide = image(ds, 'wide.png');
    for (const v of wide) assert.ok(near(v, (0.587 * 255) / 127.5 - 1), `green in grey is ${v}`);
  });

  it('rejects empty folders, folders with nothing readable, files and unknown names', async () => {
    const empty = join(root, 'empty');
    mkdirSync(join(empty, 'sub'), { recursive: true });
    writeFileSync(join(empty, 'readme.txt'), 'no images here');
    await assert.rejects(openDataset(empty, { imageSize: 16, channels: 3 }), { name: 'DatasetError', message: /no images/ });
    const broken = join(root, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'x.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2]));
    writeFileSync(join(broken, 'y.png'), Buffer.from('nope'));
    await assert.rejects(openDataset(broken, { imageSize: 16, channels: 3 }), {
      name: 'DatasetError',
      message: /no readable images.*all 2 image files.*x\.jpg, y\.png/,
    });
    await assert.rejects(openDataset(join(dir, 'notes.txt'), { imageSize: 16, channels: 3 }), { name: 'DatasetError', message: /is a file/ });
    for (const spec of ['imagenet', join(root, 'missing')]) {
      await assert.rejects(openDataset(spec, { imageSize: 16, channels: 3 }), (e: Error) => {
        assert.ok(e instanceof DatasetError);
        assert.ok(e.message.includes(spec), 'does not say what was looked for');
        assert.match(e.message, /shapes, mnist, fashion-mnist, cifar10/);
        return true;
      });
    }
  });

  it('hints at --data mnist when a folder holds IDX files instead of images', async () => {
    const idx = join(root, 'idxdir');
    mkdirSync(idx);
    writeFileSync(join(idx, 'train-images-idx3-ubyte'), idxBytes([1, 2, 2], [0, 1, 2, 3]));
    await assert.rejects(openDataset(idx, { imageSize: 16, channels: 1 }), { name: 'DatasetError', message: /--data mnist/ });
  });

  it('decodeImage rejects bytes that are neither PNG nor JPEG', () => {
    assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), /neither a PNG nor a JPEG/);
  });
});
