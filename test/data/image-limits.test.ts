/**
 * Decompression bombs and short image data in image folders (issue 10): sizes come from the PNG
 * IHDR / JPEG SOF header before anything is decoded; images above the limit are skipped and
 * counted in the one warning; an image whose data is shorter than its header promises is
 * unreadable, never a black image.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import {
  DatasetError,
  decodeImage,
  DEFAULT_MAX_IMAGE_PIXELS,
  ImageTooLargeError,
  openDataset,
  readImageHeader,
} from '../../src/data/index.js';
import { claimingPng, encodePng, pixels, tempDir } from './helpers.js';

function smallJpeg(side = 16): Buffer {
  const data = Buffer.alloc(side * side * 4);
  for (let i = 0; i < side * side; i++) data.set([(i * 7) & 255, (i * 3) & 255, 128, 255], 4 * i);
  return Buffer.from(jpeg.encode({ width: side, height: side, data }, 90).data);
}

/** The JPEG with its SOF0 frame header patched to claim width × height. */
function claimingJpeg(width: number, height: number): Buffer {
  const b = Buffer.from(smallJpeg());
  let at = 2;
  while (b[at + 1] !== 0xc0) at += 2 + b.readUInt16BE(at + 2);
  b.writeUInt16BE(height, at + 5);
  b.writeUInt16BE(width, at + 7);
  return b;
}

const good = (seed: number): Buffer => encodePng({ width: 16, height: 16, colorType: 2, samples: pixels(16, 16, (x, y) => [(x * 16 + seed) & 255, y * 16, 200]) });

describe('image headers', () => {
  it('the crafted bomb is a 74-byte PNG whose IHDR says 20000×20000', () => {
    const bomb = claimingPng(20000, 20000);
    assert.equal(bomb.length, 74);
    assert.deepEqual(readImageHeader(bomb), { format: 'png', width: 20000, height: 20000 });
  });

  it('readImageHeader reads PNG and JPEG sizes without decoding', () => {
    assert.deepEqual(readImageHeader(good(0)), { format: 'png', width: 16, height: 16 });
    assert.deepEqual(readImageHeader(smallJpeg()), { format: 'jpeg', width: 16, height: 16 });
    assert.deepEqual(readImageHeader(claimingJpeg(30000, 20000)), { format: 'jpeg', width: 30000, height: 20000 });
  });

  it('decodeImage refuses images over the limit before allocating, fast', () => {
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    assert.throws(() => decodeImage(claimingPng(20000, 20000)), (e: unknown) => e instanceof ImageTooLargeError && e.width === 20000 && /20000×20000 \(400000000 pixels\), more than the limit of 64000000 pixels/.test(e.message));
    assert.throws(() => decodeImage(claimingJpeg(20000, 20000)), ImageTooLargeError);
    assert.throws(() => decodeImage(good(0), { maxPixels: 255 }), ImageTooLargeError);
    decodeImage(good(0), { maxPixels: 256 });
    assert.ok(performance.now() - started < 500, 'fast');
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'small in memory');
  });

  it('image data shorter than the header promises is corrupt, never black', () => {
    // 2000×2000 is under the limit; 1024 bytes of data cannot fill it.
    const started = performance.now();
    assert.throws(() => decodeImage(claimingPng(2000, 2000)), (e: unknown) => e instanceof DatasetError && /corrupt PNG: its data holds 1024 of the 12002000 bytes .* \(truncated\)/.test(e.message));
    assert.throws(() => decodeImage(claimingJpeg(4000, 4000)), (e: unknown) => e instanceof DatasetError && /corrupt JPEG: \d+ bytes cannot hold a 4000×4000 image/.test(e.message));
    // One row short of 16×16 RGB: 15 rows of (1 + 48) bytes.
    assert.throws(() => decodeImage(claimingPng(16, 16, 15 * 49)), /corrupt PNG: its data holds 735 of the 784 bytes/);
    assert.ok(performance.now() - started < 1000, 'fast');
    assert.equal(DEFAULT_MAX_IMAGE_PIXELS, 64_000_000);
  });
});

describe('image folders with bombs and short images', () => {
  it('skips the bomb and a truncated image with one warning counting both; training data stays', async () => {
    const dir = tempDir();
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, `ok${i}.png`), good(i));
    writeFileSync(join(dir, 'bomb.png'), claimingPng(20000, 20000));
    writeFileSync(join(dir, 'bomb.jpg'), claimingJpeg(20000, 20000));
    writeFileSync(join(dir, 'short.png'), claimingPng(1000, 1000));
    const warnings: string[] = [];
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const ds = await openDataset(dir, { imageSize: 16, channels: 3, onWarning: (w) => warnings.push(w) });
    assert.ok(performance.now() - started < 3000, 'fast');
    assert.ok(process.memoryUsage().rss - before < 200 << 20, 'small in memory');
    assert.equal(ds.length, 3);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /skipped 1 unreadable file \(short\.png\) and 2 files larger than the limit of 64000000 pixels \(bomb\.jpg 20000×20000, bomb\.png 20000×20000; raise it with --max-image-pixels\)/);
  });

  it('maxImagePixels passes through openDataset; a folder of only oversized images is an error naming the limit', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'a.png'), good(1));
    await assert.rejects(openDataset(dir, { imageSize: 16, channels: 3, maxImagePixels: 100 }), {
      name: 'DatasetError',
      message: /no readable images in .*: all 1 image file were skipped: 1 file larger than the limit of 100 pixels \(sub\/a\.png 16×16/,
    });
    assert.equal((await openDataset(dir, { imageSize: 16, channels: 3, maxImagePixels: 256 })).length, 1);
  });
});

/** An 8-bit RGB Adam7-interlaced PNG (filter 0 rows), written here from the spec's pass layout. */
function interlacedPng(width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): Buffer {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      rows.push(0);
      for (let x = x0; x < width; x += dx) rows.push(...rgb(x, y));
    }
  }
  const png = claimingPng(width, height);
  // Same layout as claimingPng, with the interlace flag and the real data.
  const ihdr = png.subarray(8, 33);
  ihdr[8 + 12] = 1;
  const head = Buffer.from(ihdr);
  head.writeUInt32BE(crc32(head.subarray(4, 21)) >>> 0, 21);
  const data = deflateSync(Buffer.from(rows));
  const idat = Buffer.alloc(12 + data.length);
  idat.writeUInt32BE(data.length, 0);
  idat.write('IDAT', 4, 'ascii');
  data.copy(idat, 8);
  idat.writeUInt32BE(crc32(idat.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return Buffer.concat([png.subarray(0, 8), head, idat, png.subarray(png.length - 12)]);
}

describe('interlaced PNGs', () => {
  for (const [w, h] of [[5, 3], [1, 1], [9, 10], [16, 16]] as const) {
    it(`a ${w}×${h} Adam7 image decodes to its pixels (the data-length check counts every pass)`, () => {
      const rgb = (x: number, y: number): [number, number, number] => [x * 13, y * 17, (x * y) & 255];
      const img = decodeImage(interlacedPng(w, h, rgb));
      assert.deepEqual([img.width, img.height], [w, h]);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) assert.deepEqual([...img.data.subarray(3 * (y * w + x), 3 * (y * w + x) + 3)], rgb(x, y), `pixel ${x},${y}`);
    });
  }
  it('an interlaced image one byte short is corrupt', () => {
    const full = interlacedPng(9, 10, () => [1, 2, 3]);
    // Rebuild with one byte less of raw data.
    assert.doesNotThrow(() => decodeImage(full));
    const short = (() => {
      const raw = inflateSync(full.subarray(41, full.length - 16));
      const data = deflateSync(raw.subarray(0, raw.length - 1));
      const idat = Buffer.alloc(12 + data.length);
      idat.writeUInt32BE(data.length, 0);
      idat.write('IDAT', 4, 'ascii');
      data.copy(idat, 8);
      idat.writeUInt32BE(crc32(idat.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
      return Buffer.concat([full.subarray(0, 33), idat, full.subarray(full.length - 12)]);
    })();
    assert.throws(() => decodeImage(short), /corrupt PNG: its data holds \d+ of the \d+ bytes/);
  });
});
