/**
 * Images out: a batch [N, C, H, W] with values in [−1, 1] (tanh outputs, dataset images) to a
 * PNG grid laid out as torchvision's make_grid (`nrow` images per row, `padding` pixels of
 * `padValue` around and between them), or to single PNGs. Pixels are mapped as torchvision's
 * save_image does after normalising [−1, 1] to [0, 1]: byte = clamp(⌊255·v + 0.5⌋, 0, 255).
 */
import { PNG } from 'pngjs';
import { shapeToString } from '../tensor/shape.js';
import { writeFileAtomic } from './atomic.js';

/** Image data as the grid functions take it: a [N, C, H, W] float array (a Tensor fits). */
export interface ImageBatch {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface GridOptions {
  /** Images per row (torchvision's default 8). */
  nrow?: number;
  /** Pixels between and around images (default 2). */
  padding?: number;
  /** Padding brightness in [0, 1] (default 0, black). */
  padValue?: number;
}

/** An 8-bit raster: `channels` 1 (grey) or 3 (RGB), rows of width·channels bytes. */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

function batchShape(batch: ImageBatch): [number, 1 | 3, number, number] {
  const [n, c, h, w] = batch.shape;
  if (batch.shape.length !== 4 || (c !== 1 && c !== 3) || !n || !h || !w) {
    throw new RangeError(`image grid: expected a non-empty batch [N, 1 or 3, H, W], got ${shapeToString(batch.shape)}`);
  }
  return [n, c, h, w];
}

function toByte(v: number): number {
  const b = Math.floor(((v + 1) / 2) * 255 + 0.5);
  return b < 0 ? 0 : b > 255 ? 255 : Number.isNaN(b) ? 0 : b;
}

/** Lays a batch out as torchvision.utils.make_grid does, in bytes. */
export function makeGrid(batch: ImageBatch, options: GridOptions = {}): Raster {
  const [n, c, h, w] = batchShape(batch);
  const padding = options.padding ?? 2;
  const nrow = options.nrow ?? 8;
  if (!Number.isInteger(nrow) || nrow < 1) throw new RangeError(`image grid: nrow must be a positive integer, got ${nrow}`);
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`image grid: padding must be a non-negative integer, got ${padding}`);
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  const cellH = h + padding;
  const cellW = w + padding;
  const width = cols * cellW + padding;
  const height = rows * cellH + padding;
  const pixels = new Uint8Array(width * height * c).fill(Math.round((options.padValue ?? 0) * 255));
  const plane = h * w;
  for (let k = 0; k < n; k++) {
    const x0 = (k % cols) * cellW + padding;
    const y0 = Math.floor(k / cols) * cellH + padding;
    const base = k * c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const out = ((y0 + y) * width + x0 + x) * c;
        for (let ch = 0; ch < c; ch++) pixels[out + ch] = toByte(batch.data[base + ch * plane + y * w + x]!);
      }
    }
  }
  return { width, height, channels: c, pixels };
}

/** PNG bytes of a raster (grey or RGB, 8 bits). */
export function encodePng(raster: Raster): Buffer {
  const png = new PNG({ width: raster.width, height: raster.height });
  const { pixels, channels } = raster;
  for (let i = 0, n = raster.width * raster.height; i < n; i++) {
    const r = pixels[i * channels]!;
    png.data[4 * i] = r;
    png.data[4 * i + 1] = channels === 3 ? pixels[i * 3 + 1]! : r;
    png.data[4 * i + 2] = channels === 3 ? pixels[i * 3 + 2]! : r;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: channels === 3 ? 2 : 0, inputColorType: 6, bitDepth: 8 });
}

/** Writes a batch as one grid PNG (atomically, so a viewer never sees half a file). */
export function saveImageGrid(path: string, batch: ImageBatch, options: GridOptions = {}): Raster {
  const raster = makeGrid(batch, options);
  writeFileAtomic(path, encodePng(raster));
  return raster;
}

/** Writes image `index` of a batch as its own PNG (no padding), atomically. */
export function saveImage(path: string, batch: ImageBatch, index: number): void {
  const [n, c, h, w] = batchShape(batch);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`saveImage: index ${index} is outside the batch of ${n}`);
  const size = c * h * w;
  const one: ImageBatch = { shape: [1, c, h, w], data: batch.data.subarray(index * size, (index + 1) * size) };
  writeFileAtomic(path, encodePng(makeGrid(one, { padding: 0 })));
}
