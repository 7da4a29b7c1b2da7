/**
 * Fuzzing image-folder loading: PNG and JPEG bytes through loadImageBytes, the per-file step of
 * openImageFolder (header and size limit, decode, crop, resize, channel conversion). See harness.ts.
 */
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DatasetError, loadImageBytes, openDataset, readImageHeader } from '../../src/data/index.js';
import { encodePng, pixels } from '../data/helpers.js';
import { fuzzTest, mutatedInputs, type FuzzField, type FuzzRandom, type Mutator } from './harness.js';

const out = new Uint8Array(3 * 16 * 16);
let channels: 1 | 3 = 3;

function parse(bytes: Uint8Array): { width: number; height: number } {
  channels = channels === 3 ? 1 : 3; // both conversions
  return loadImageBytes(bytes, { imageSize: 16, channels, maxImagePixels: 4_000_000 }, out);
}

function check(result: { width: number; height: number }, input: Uint8Array): void {
  const header = readImageHeader(input);
  assert.deepEqual([result.width, result.height], [header.width, header.height], 'decoded size = header size');
}

// PNG: the colour types and depths, a palette, and pngjs's own encoder (which splits nothing but filters rows).
const pngSeeds: Uint8Array[] = [
  encodePng({ width: 8, height: 8, colorType: 2, samples: pixels(8, 8, (x, y) => [x * 30, y * 30, 100]) }),
  encodePng({ width: 5, height: 7, colorType: 0, bitDepth: 16, samples: pixels(5, 7, (x, y) => [x * 9000 + y * 100]) }),
  encodePng({ width: 6, height: 4, colorType: 3, samples: pixels(6, 4, (x, y) => [(x + y) % 3]), palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]] }),
  encodePng({ width: 4, height: 4, colorType: 6, samples: pixels(4, 4, (x, y) => [x * 60, y * 60, 0, (x + y) * 30]) }),
  encodePng({ width: 3, height: 9, colorType: 4, samples: pixels(3, 9, (x, y) => [x * 80, y * 25]) }),
  (() => {
    const png = new PNG({ width: 12, height: 10 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 13) & 255;
    return PNG.sync.write(png);
  })(),
];

/** A PNG's chunks: [start, end) of each (length, type, data, CRC), after the signature. */
function pngChunks(b: Uint8Array): Array<[number, number]> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const chunks: Array<[number, number]> = [];
  for (let at = 8; at + 12 <= b.length; ) {
    const end = at + 12 + view.getUint32(at, false);
    if (end > b.length) break;
    chunks.push([at, end]);
    at = end;
  }
  return chunks;
}

function pngFields(b: Uint8Array): FuzzField[] {
  const fields: FuzzField[] = pngChunks(b).map(([at]) => ({ offset: at, size: 4, littleEndian: false }));
  fields.push({ offset: 16, size: 4, littleEndian: false }, { offset: 20, size: 4, littleEndian: false }, { offset: 24, size: 1, littleEndian: false }, { offset: 25, size: 1, littleEndian: false }, { offset: 28, size: 1, littleEndian: false });
  return fields;
}

/** Recomputes every chunk's CRC, so that pngjs looks past its checksum at the mutated content. */
function fixCrcs(b: Uint8Array): Uint8Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const [at, end] of pngChunks(b)) view.setUint32(end - 4, crc32(b.subarray(at + 4, end - 4)) >>> 0, false);
  return b;
}

/** Changes 1–4 bytes inside chunks (IHDR fields, palette, compressed data), CRCs fixed. */
const pngContent: Mutator = (b: Uint8Array, rng: FuzzRandom) => {
  const chunks = pngChunks(b).filter(([at, end]) => end - at > 12);
  if (chunks.length === 0) return b;
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const [at, end] = rng.pick(chunks);
    const i = at + 8 + rng.int(end - at - 12);
    b[i] = rng.pick([0, 1, 2, 3, 4, 6, 8, 16, 0x7f, 0x80, 0xff, rng.int(256), b[i]! ^ (1 << rng.int(8))]);
  }
  return fixCrcs(b);
};

/** Inflates the image data, damages the raw scanlines (filter bytes, length), deflates it again; CRCs fixed. */
const pngRaw: Mutator = (b: Uint8Array, rng: FuzzRandom) => {
  const chunks = pngChunks(b);
  const idat = chunks.filter(([at]) => String.fromCharCode(...b.subarray(at + 4, at + 8)) === 'IDAT');
  if (idat.length === 0) return b;
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(inflateSync(Buffer.concat(idat.map(([at, end]) => b.subarray(at + 8, end - 4)))));
  } catch {
    return b;
  }
  const op = rng.int(4);
  if (op === 0) raw = raw.subarray(0, rng.int(raw.length + 1));
  else if (op === 1) raw = new Uint8Array([...raw, ...new Uint8Array(1 + rng.int(64)).map(() => rng.int(256))]);
  else for (let k = 1 + rng.int(6); k > 0 && raw.length > 0; k--) raw[rng.int(raw.length)] = rng.pick([0, 1, 2, 3, 4, 5, 0xff, rng.int(256)]);
  const data = deflateSync(raw);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, data.length, false);
  head.set([0x49, 0x44, 0x41, 0x54], 4);
  const [first] = idat[0]!;
  const [, last] = idat.at(-1)!;
  return fixCrcs(new Uint8Array([...b.subarray(0, first), ...head, ...data, 0, 0, 0, 0, ...b.subarray(last)]));
};

function rgbaImage(width: number, height: number, f: (x: number, y: number) => number[]): { width: number; height: number; data: Buffer } {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], 4 * (y * width + x));
  return { width, height, data };
}

const jpegSeeds: Uint8Array[] = [
  jpeg.encode(rgbaImage(8, 8, (x, y) => [x * 30, y * 30, 90]), 90).data,
  jpeg.encode(rgbaImage(17, 12, (x, y) => [(x * y) & 255, 200, x * 15]), 50).data,
  jpeg.encode(rgbaImage(3, 5, () => [10, 20, 30]), 100).data,
];

/** A JPEG's marker segments up to the scan: [start, end) of each. */
function jpegSegments(b: Uint8Array): Array<[number, number]> {
  const segments: Array<[number, number]> = [];
  for (let at = 2; at + 4 <= b.length && b[at] === 0xff; ) {
    const end = at + 2 + ((b[at + 2]! << 8) | b[at + 3]!);
    if (end > b.length) break;
    segments.push([at, end]);
    if (b[at + 1] === 0xda) break;
    at = end;
  }
  return segments;
}

function jpegFields(b: Uint8Array): FuzzField[] {
  const fields: FuzzField[] = jpegSegments(b).map(([at]) => ({ offset: at + 2, size: 2, littleEndian: false }));
  for (const [at] of jpegSegments(b)) {
    if (b[at + 1] === 0xc0) fields.push({ offset: at + 5, size: 2, littleEndian: false }, { offset: at + 7, size: 2, littleEndian: false }, { offset: at + 9, size: 1, littleEndian: false });
  }
  return fields;
}

const pngTarget = { name: 'png', seeds: pngSeeds, parse, check, allowedErrors: [DatasetError], fields: pngFields, sections: pngChunks, mutators: [pngContent, pngContent, pngRaw, pngRaw, (b: Uint8Array) => fixCrcs(b)], iterations: 600 };
const jpegTarget = { name: 'jpeg', seeds: jpegSeeds, parse, check, allowedErrors: [DatasetError], fields: jpegFields, sections: jpegSegments, iterations: 400 };
fuzzTest(pngTarget);
fuzzTest(jpegTarget);

test('a folder of mutated PNG and JPEG files opens with one warning counting every skip, or fails with one DatasetError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcgan-fuzz-folder-'));
  try {
    const files = [...mutatedInputs(pngTarget, 40, 5).map((b, i) => [`p${i}.png`, b] as const), ...mutatedInputs(jpegTarget, 40, 5).map((b, i) => [`j${i}.jpg`, b] as const)];
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
    writeFileSync(join(dir, 'good.png'), pngSeeds[0]!);
    const warnings: string[] = [];
    const dataset = await openDataset(dir, { imageSize: 16, channels: 3, maxImagePixels: 4_000_000, onWarning: (w) => warnings.push(w) });
    assert.ok(warnings.length <= 1, warnings.join('\n'));
    const skipped = warnings.length === 0 ? 0 : [...warnings[0]!.matchAll(/(\d+) (?:unreadable )?files? (?:larger|\()/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(dataset.length + skipped, files.length + 1, `${dataset.length} kept + ${skipped} skipped: ${warnings[0]}`);
    assert.ok(!warnings.some((w) => w.includes('\n')));
    console.log(`fuzz image folder: ${files.length + 1} files: ${dataset.length} loaded, ${skipped} skipped in one warning`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

