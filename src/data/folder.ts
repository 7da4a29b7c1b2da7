/**
 * A folder of PNG and JPEG images, searched recursively. Every image is decoded once, up front:
 * centre-cropped to a square, resized to imageSize (area averaging when shrinking, bilinear
 * when enlarging), converted to the wanted channels and kept as bytes, CHW, in one compact
 * cache (imageSize²·channels bytes per image), so read() is a byte → [−1, 1] copy.
 *
 * The listing is sorted (by code unit, not locale) so the same folder always gives the same
 * indices. Names starting with '.' are skipped (hidden folders such as .git, and macOS's
 * ._name.jpg resource forks, which are not images). Files are recognised by extension
 * (.png .jpg .jpeg, any case) and decoded by their magic bytes, so a misnamed file still
 * works. Unreadable or corrupt files are skipped with one warning for the whole folder.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { checkChannels, checkImageSize, checkRead, DatasetError, LUMA_B, LUMA_G, LUMA_R, type ImageDataset } from './common.js';
import { SquareResizer } from './resize.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** Decoded pixels: RGB, 3 bytes per pixel, row-major. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/**
 * Decodes PNG (any bit depth, palette, grey, alpha) or JPEG bytes to 8-bit RGB. Transparent
 * pixels are composited over BLACK (rgb·α): the usual result of dropping alpha, and black is
 * −1, the floor of the generator's tanh range.
 */
export function decodeImage(bytes: Uint8Array): RgbImage {
  if (isPng(bytes)) {
    // pngjs expands palette and grey images to RGBA and rescales 16-bit samples to 8 bits.
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const { width, height } = png;
    const rgba = png.data;
    if (width < 1 || height < 1 || rgba.length < width * height * 4) throw new Error('empty or truncated PNG');
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
      const a = rgba[i + 3]!;
      if (a === 255) {
        data[j] = rgba[i]!;
        data[j + 1] = rgba[i + 1]!;
        data[j + 2] = rgba[i + 2]!;
      } else {
        data[j] = Math.round((rgba[i]! * a) / 255);
        data[j + 1] = Math.round((rgba[i + 1]! * a) / 255);
        data[j + 2] = Math.round((rgba[i + 2]! * a) / 255);
      }
    }
    return { width, height, data };
  }
  if (isJpeg(bytes)) {
    // Grey and CMYK JPEGs come out as RGB too. The limits guard against absurd headers.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 200, maxMemoryUsageInMB: 1024 });
    if (img.width < 1 || img.height < 1 || img.data.length < img.width * img.height * 3) throw new Error('empty or truncated JPEG');
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error('neither a PNG nor a JPEG file');
}

/** Every image file under `dir`, as sorted paths relative to it (with '/' separators). */
export async function listImageFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (path: string): Promise<void> => {
    const real = await realpath(path);
    if (visited.has(real)) return; // a symlink cycle
    visited.add(real);
    const entries = await readdir(path, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(path, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const s = await stat(full);
          isDir = s.isDirectory();
          isFile = s.isFile();
        } catch {
          continue; // a dangling link
        }
      }
      if (isDir) await walk(full);
      else if (isFile && IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
        found.push(relative(dir, full).split(sep).join('/'));
      }
    }
  };
  await walk(dir);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Centre-crops, resizes and channel-converts one decoded image into `out` (CHW bytes). */
export function imageToBytes(img: RgbImage, imageSize: number, channels: 1 | 3, out: Uint8Array, offset = 0): void {
  const resizer = new SquareResizer(img.width, img.height, imageSize);
  const plane = new Float64Array(imageSize * imageSize);
  const n = plane.length;
  const store = (o: number) => {
    for (let i = 0; i < n; i++) {
      const v = Math.round(plane[i]!);
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  };
  if (channels === 1) {
    const src = img.data;
    const gray = new Float64Array(img.width * img.height);
    for (let i = 0, j = 0; i < gray.length; i++, j += 3) gray[i] = LUMA_R * src[j]! + LUMA_G * src[j + 1]! + LUMA_B * src[j + 2]!;
    resizer.resize(gray, 0, 1, img.width, plane, 0);
    store(offset);
    return;
  }
  for (let c = 0; c < 3; c++) {
    resizer.resize(img.data, c, 3, 3 * img.width, plane, 0);
    store(offset + c * n);
  }
}

export interface FolderOpenOptions {
  imageSize: number;
  channels: 1 | 3;
  onWarning?: (message: string) => void;
}

export class ImageFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;

  /** `cache`: length × channels × imageSize² bytes, CHW per image; `files`: the path of each image. */
  constructor(
    readonly name: string,
    private readonly cache: Uint8Array,
    readonly files: readonly string[],
    options: { imageSize: number; channels: 1 | 3 },
  ) {
    this.imageSize = checkImageSize(options.imageSize);
    this.channels = checkChannels(options.channels);
    this.length = files.length;
    if (cache.length !== this.length * this.channels * this.imageSize * this.imageSize) {
      throw new RangeError(`${name}: the cache holds ${cache.length} bytes, not ${this.length} images`);
    }
  }

  read(index: number, out: Float32Array, offset = 0): void {
    checkRead(this, index, out, offset);
    const n = this.channels * this.imageSize * this.imageSize;
    const src = this.cache.subarray(index * n, (index + 1) * n);
    for (let i = 0; i < n; i++) out[offset + i] = src[i]! / 127.5 - 1;
  }
}

function summarise(names: readonly string[], shown = 3): string {
  return names.slice(0, shown).join(', ') + (names.length > shown ? ', …' : '');
}

/** Decodes every PNG/JPEG under `dir` (recursively) into an ImageFolderDataset. */
export async function openImageFolder(dir: string, options: FolderOpenOptions): Promise<ImageFolderDataset> {
  const imageSize = checkImageSize(options.imageSize);
  const channels = checkChannels(options.channels);
  let files: string[];
  try {
    files = await listImageFiles(dir);
  } catch (error) {
    throw new DatasetError(`cannot list image folder ${dir}: ${(error as Error).message}`);
  }
  if (files.length === 0) {
    throw new DatasetError(`no images in ${dir}: found no ${IMAGE_EXTENSIONS.join(' ')} files (searched recursively)`);
  }
  const perImage = channels * imageSize * imageSize;
  let cache: Uint8Array;
  try {
    cache = new Uint8Array(files.length * perImage);
  } catch {
    const gb = ((files.length * perImage) / 2 ** 30).toFixed(1);
    throw new DatasetError(
      `${dir}: ${files.length} images at ${imageSize}×${imageSize}×${channels} need ${gb} GiB of cache, more than can be allocated; use fewer images or a smaller image size`,
    );
  }
  const kept: string[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    try {
      const img = decodeImage(await readFile(join(dir, file)));
      imageToBytes(img, imageSize, channels, cache, kept.length * perImage);
      kept.push(file);
    } catch {
      skipped.push(file);
    }
  }
  if (kept.length === 0) {
    throw new DatasetError(`no readable images in ${dir}: all ${files.length} image file${files.length === 1 ? '' : 's'} failed to decode (${summarise(skipped)})`);
  }
  if (skipped.length > 0) {
    options.onWarning?.(`${dir}: skipped ${skipped.length} unreadable file${skipped.length === 1 ? '' : 's'} (${summarise(skipped)})`);
  }
  const compact = kept.length === files.length ? cache : cache.slice(0, kept.length * perImage);
  return new ImageFolderDataset(dir, compact, kept, { imageSize, channels });
}
