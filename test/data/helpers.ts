/** Test helpers for the data layer: temp dirs, a tiny independent PNG encoder, IDX/CIFAR writers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { after } from 'node:test';

/** A fresh temp directory, removed when the test file finishes. */
export function tempDir(prefix = 'dcgan-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const body = Buffer.concat([head.subarray(4), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0, 0);
  return Buffer.concat([head.subarray(0, 4), body, crc]);
}

export interface PngSpec {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth?: 8 | 16;
  /** Samples per pixel in order, row-major; for 16-bit, values 0..65535. */
  samples: ArrayLike<number>;
  /** For colorType 3: RGB triples. */
  palette?: ReadonlyArray<readonly [number, number, number]>;
}

/** Encodes a PNG (filter 0 on every row), independent of pngjs's encoder. */
export function encodePng(spec: PngSpec): Buffer {
  const depth = spec.bitDepth ?? 8;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[spec.colorType];
  const bytesPerSample = depth / 8;
  const rowBytes = spec.width * channels * bytesPerSample;
  const raw = Buffer.alloc((rowBytes + 1) * spec.height);
  let s = 0;
  for (let y = 0; y < spec.height; y++) {
    let o = y * (rowBytes + 1) + 1;
    for (let i = 0; i < spec.width * channels; i++, s++) {
      const v = spec.samples[s]!;
      if (depth === 16) {
        raw.writeUInt16BE(v, o);
        o += 2;
      } else raw[o++] = v;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = depth;
  ihdr[9] = spec.colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (spec.palette) parts.push(chunk('PLTE', Buffer.from(spec.palette.flat())));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/**
 * A PNG whose IHDR claims width × height (8-bit RGB) but whose only IDAT is the deflate of
 * `rawBytes` zero bytes: with the defaults, 20000×20000 in 74 bytes (a decompression bomb).
 */
export function claimingPng(width: number, height: number, rawBytes = 1024): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(rawBytes), { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** `count` per-pixel samples made by f(x, y) → sample array of one pixel. */
export function pixels(width: number, height: number, f: (x: number, y: number) => number[]): number[] {
  const out: number[] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.push(...f(x, y));
  return out;
}

/** An IDX file: 00 00 08 ndims, big-endian dims, bytes. */
export function idxBytes(dims: number[], data: ArrayLike<number>): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(Array.from(data))]);
}

/** One CIFAR-10 binary record: label, then R, G, B planes (32×32) from f(x, y) → [r, g, b]. */
export function cifarRecord(label: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const rec = Buffer.alloc(3073);
  rec[0] = label;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const rgb = f(x, y);
      for (let c = 0; c < 3; c++) rec[1 + c * 1024 + y * 32 + x] = rgb[c]!;
    }
  }
  return rec;
}

/** Reads image `index` of a dataset into a fresh array. */
export function readImage(ds: { channels: number; imageSize: number; read(i: number, out: Float32Array, o?: number): void }, index: number): Float32Array {
  const out = new Float32Array(ds.channels * ds.imageSize * ds.imageSize);
  ds.read(index, out);
  return out;
}

export function minMax(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < lo) lo = a[i]!;
    if (a[i]! > hi) hi = a[i]!;
  }
  return [lo, hi];
}

export function variance(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i]!;
  m /= a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i]! - m) ** 2;
  return v / a.length;
}
