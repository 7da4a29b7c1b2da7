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
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { inflateSync } from 'node:zlib';
import { checkChannels, checkImageSize, checkRead, DatasetError, DEFAULT_MAX_IMAGE_PIXELS, LUMA_B, LUMA_G, LUMA_R, type ImageDataset } from './common.js';
import { cacheDir } from './cache-dir.js';
import { CachedFolderDataset, folderCachePath, folderClasses, folderLabels, openFolderCache, prepareFolderCache, PREPARATION_STOPPED, SLOT_FAILED, SLOT_WRITTEN, startFolderCachePreparation, statFiles, type CacheHeader, type PrepareJob, type SlotResult } from './folder-cache.js';
import { LazyFolderDataset } from './folder-lazy.js';
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

export { DEFAULT_MAX_IMAGE_PIXELS };

/** What an image file's header says, read without decoding anything. */
export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

/** An image whose header promises more pixels than the limit: skipped without being decoded. */
export class ImageTooLargeError extends DatasetError {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly limit: number,
  ) {
    super(`the image is ${width}×${height} (${width * height} pixels), more than the limit of ${limit} pixels`);
    this.name = 'ImageTooLargeError';
  }
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

interface PngLayout extends ImageHeader {
  format: 'png';
  depth: number;
  colorType: number;
  interlace: number;
  /** The IDAT chunks' data (still compressed), in order. */
  idat: Uint8Array[];
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Walks a PNG's chunks (bounds-checked) for the IHDR fields and the IDAT data. */
function pngLayout(b: Uint8Array): PngLayout {
  if (b.length < 33 || u32be(b, 8) !== 13 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') {
    throw new DatasetError('corrupt PNG: no IHDR header');
  }
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const depth = b[24]!;
  const colorType = b[25]!;
  const interlace = b[28]!;
  if (width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) throw new DatasetError(`corrupt PNG: invalid size ${width}×${height}`);
  if (!PNG_DEPTHS[colorType]?.includes(depth)) throw new DatasetError(`corrupt PNG: invalid colour type ${colorType} with bit depth ${depth}`);
  if (b[26] !== 0 || b[27] !== 0 || interlace > 1) throw new DatasetError('corrupt PNG: unknown compression, filter or interlace method');
  const idat: Uint8Array[] = [];
  let at = 33;
  let ended = false;
  while (at + 12 <= b.length) {
    const length = u32be(b, at);
    const type = String.fromCharCode(b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
    if (length > b.length - at - 12) throw new DatasetError(`corrupt PNG: the ${JSON.stringify(type)} chunk claims ${length} bytes, more than the file holds`);
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + length));
    at += 12 + length;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (idat.length === 0) throw new DatasetError(`corrupt PNG: no image data${ended ? '' : ' (truncated)'}`);
  return { format: 'png', width, height, depth, colorType, interlace, idat };
}

/** Bytes of the filtered scanlines that the IHDR promises (all seven passes when interlaced). */
function pngRawSize(p: PngLayout): number {
  const bits = PNG_CHANNELS[p.colorType]! * p.depth;
  const size = (w: number, h: number): number => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (p.interlace === 0) return size(p.width, p.height);
  // Adam7: x0, y0, dx, dy of each pass.
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  return passes.reduce((t, [x0, y0, dx, dy]) => t + size(Math.ceil((p.width - x0!) / dx!), Math.ceil((p.height - y0!) / dy!)), 0);
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Finds a JPEG's frame header (SOFn) by walking the marker segments, bounds-checked. */
function jpegHeader(b: Uint8Array): ImageHeader {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) throw new DatasetError(`corrupt JPEG: no marker at byte ${at}`);
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) throw new DatasetError('corrupt JPEG: no frame header before the image data');
    const length = (b[at + 2]! << 8) | b[at + 3]!;
    if (length < 2 || at + 2 + length > b.length) throw new DatasetError(`corrupt JPEG: a segment at byte ${at} claims ${length} bytes, beyond the end of the file`);
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) throw new DatasetError('corrupt JPEG: frame header too short');
      const height = (b[at + 5]! << 8) | b[at + 6]!;
      const width = (b[at + 7]! << 8) | b[at + 8]!;
      if (width < 1 || height < 1) throw new DatasetError(`corrupt JPEG: invalid size ${width}×${height}`);
      return { format: 'jpeg', width, height };
    }
    at += 2 + length;
  }
  throw new DatasetError('corrupt JPEG: no frame header (truncated)');
}

/** Reads the format and size from a PNG IHDR or JPEG SOF header, decoding nothing. */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (isPng(bytes)) {
    const { width, height } = pngLayout(bytes);
    return { format: 'png', width, height };
  }
  if (isJpeg(bytes)) return jpegHeader(bytes);
  throw new DatasetError('neither a PNG nor a JPEG file');
}

export interface DecodeOptions {
  /** Largest width × height to decode (default DEFAULT_MAX_IMAGE_PIXELS); larger images throw ImageTooLargeError. */
  maxPixels?: number;
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/**
 * Decodes PNG (any bit depth, palette, grey, alpha) or JPEG bytes to 8-bit RGB. Transparent
 * pixels are composited over BLACK (rgb·α): the usual result of dropping alpha, and black is
 * −1, the floor of the generator's tanh range.
 *
 * The header is read first: an image larger than `maxPixels` is refused before anything is
 * allocated, and one whose data is shorter than its header promises is corrupt (never padded
 * with black). Every failure is a DatasetError.
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RgbImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  if (isPng(bytes)) {
    const layout = pngLayout(bytes);
    if (layout.width * layout.height > maxPixels) throw new ImageTooLargeError(layout.width, layout.height, maxPixels);
    // pngjs pads short image data with zeros (a black image); inflate it first, bounded by what the header promises.
    const expected = pngRawSize(layout);
    let inflated: number;
    try {
      inflated = inflateSync(Buffer.concat(layout.idat), { maxOutputLength: expected + 1 }).length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') inflated = expected + 1;
      else throw new DatasetError(`corrupt PNG: ${message(error)}`);
    }
    if (inflated < expected) throw new DatasetError(`corrupt PNG: its data holds ${inflated} of the ${expected} bytes that a ${layout.width}×${layout.height} image needs (truncated)`);
    let png: { width: number; height: number; data: Buffer };
    try {
      // pngjs expands palette and grey images to RGBA and rescales 16-bit samples to 8 bits.
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      throw new DatasetError(`corrupt PNG: ${message(error)}`);
    }
    const { width, height } = png;
    const rgba = png.data;
    if (width !== layout.width || height !== layout.height || rgba.length < width * height * 4) throw new DatasetError('corrupt PNG: empty or truncated');
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
    const header = jpegHeader(bytes);
    if (header.width * header.height > maxPixels) throw new ImageTooLargeError(header.width, header.height, maxPixels);
    // Every 8×8 block of the first component starts with a Huffman code of at least one bit, so a
    // file with fewer bytes than blocks / 8 cannot hold the image its header promises.
    const blocks = Math.ceil(header.width / 8) * Math.ceil(header.height / 8);
    if (bytes.length < blocks / 8) {
      throw new DatasetError(`corrupt JPEG: ${bytes.length} bytes cannot hold a ${header.width}×${header.height} image (truncated)`);
    }
    let img: { width: number; height: number; data: Uint8Array };
    try {
      // Grey and CMYK JPEGs come out as RGB too. Strict decoding: missing blocks are an error, not grey.
      img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        tolerantDecoding: false,
        maxResolutionInMP: Math.max(1, Math.ceil(maxPixels / 1e6)),
        maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 16) / 2 ** 20)),
      });
    } catch (error) {
      throw new DatasetError(`corrupt JPEG: ${message(error)}`);
    }
    if (img.width !== header.width || img.height !== header.height || img.data.length < img.width * img.height * 3) {
      throw new DatasetError('corrupt JPEG: empty or truncated');
    }
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new DatasetError('neither a PNG nor a JPEG file');
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
  /** Skip images whose header promises more than this many pixels (default DEFAULT_MAX_IMAGE_PIXELS). */
  maxImagePixels?: number;
  onWarning?: (message: string) => void;
  /**
   * Keep the prepared images in a cache file (default true) under `cacheDir` (default
   * cacheDir(): $DCGAN_CACHE_DIR, $XDG_CACHE_HOME/dcgan-ts or ~/.cache/dcgan-ts), reused while
   * the folder's files, sizes and mtimes are unchanged. false: decode into memory on this thread.
   */
  cache?: boolean;
  cacheDir?: string;
  /** Worker threads that prepare a cache (default min(cores, files)); 0 decodes on this thread. */
  workers?: number;
  /**
   * JPEG decoder of the cache preparation: 'sharp' (libjpeg-turbo through the sharp package, when
   * installed) or 'js' (jpeg-js); default $DCGAN_IMAGE_DECODER, else sharp when it loads. PNGs
   * always use pngjs. The decoder is part of the cache's key.
   */
  decoder?: FolderDecoder;
  /** Preparation progress (images done, of total); throwing aborts it, leaving no cache. */
  onProgress?: (done: number, total: number) => void;
  /**
   * When the cache must be prepared: return at once a LazyFolderDataset (images decoded on demand
   * while the workers fill the cache in the background) instead of preparing first. Default:
   * lazy when the folder holds at least LAZY_MIN_IMAGES images; never with workers 0.
   */
  lazy?: boolean;
}

/**
 * What openImageFolder does with each file's bytes: decode (header and size limit first), crop,
 * resize and convert into `out` at `offset` (CHW). Returns the decoded size; throws DatasetError.
 */
export function loadImageBytes(bytes: Uint8Array, options: FolderOpenOptions, out: Uint8Array, offset = 0): { width: number; height: number } {
  const img = decodeImage(bytes, { maxPixels: options.maxImagePixels });
  imageToBytes(img, options.imageSize, options.channels, out, offset);
  return { width: img.width, height: img.height };
}

export type FolderDecoder = 'js' | 'sharp';

type SharpModule = typeof import('sharp').default;
let sharpLoad: Promise<SharpModule | null> | undefined;

/** The sharp package when it is installed and loads on this platform (its native binary), else null. */
export function loadSharp(): Promise<SharpModule | null> {
  sharpLoad ??= import('sharp').then(
    (m) => {
      const sharp = (m as unknown as { default?: SharpModule }).default ?? (m as unknown as SharpModule);
      sharp.concurrency(1); // one libvips thread per decoding thread: the pool is ours
      sharp.cache(false);
      return sharp;
    },
    () => null,
  );
  return sharpLoad;
}

/** The decoder a preparation uses when none is asked for: $DCGAN_IMAGE_DECODER, else sharp if it loads. */
export async function defaultDecoder(env: Record<string, string | undefined> = process.env): Promise<FolderDecoder> {
  const asked = env['DCGAN_IMAGE_DECODER'];
  if (asked === 'js') return 'js';
  if (asked !== undefined && asked !== '' && asked !== 'sharp') throw new DatasetError(`DCGAN_IMAGE_DECODER must be js or sharp, got ${asked}`);
  const sharp = await loadSharp();
  if (sharp === null && asked === 'sharp') throw new DatasetError('DCGAN_IMAGE_DECODER=sharp, but the sharp package is not installed or does not load here');
  return sharp === null ? 'js' : 'sharp';
}

/**
 * loadImageBytes with a choice of JPEG decoder: with sharp, the header checks of decodeImage
 * (format, size limit, truncation) come first, then libjpeg-turbo decodes to RGB (grey and CMYK
 * converted to sRGB), and the same crop/resize/convert code runs. PNGs go through decodeImage.
 */
export async function loadImageBytesWith(sharp: SharpModule | null, bytes: Uint8Array, options: FolderOpenOptions, out: Uint8Array, offset = 0): Promise<{ width: number; height: number }> {
  if (sharp === null || !isJpeg(bytes)) return loadImageBytes(bytes, options, out, offset);
  const maxPixels = options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const header = jpegHeader(bytes);
  if (header.width * header.height > maxPixels) throw new ImageTooLargeError(header.width, header.height, maxPixels);
  if (bytes.length < (Math.ceil(header.width / 8) * Math.ceil(header.height / 8)) / 8) {
    throw new DatasetError(`corrupt JPEG: ${bytes.length} bytes cannot hold a ${header.width}×${header.height} image (truncated)`);
  }
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    decoded = await sharp(bytes, { failOn: 'warning', limitInputPixels: maxPixels })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new DatasetError(`corrupt JPEG: ${message(error)}`);
  }
  const { data, info } = decoded;
  if (info.width !== header.width || info.height !== header.height || info.channels !== 3 || data.length < info.width * info.height * 3) {
    throw new DatasetError('corrupt JPEG: empty or truncated');
  }
  imageToBytes({ width: info.width, height: info.height, data }, options.imageSize, options.channels, out, offset);
  return { width: info.width, height: info.height };
}

export class ImageFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: 1 | 3;
  readonly imageSize: number;
  readonly classes?: readonly string[];
  private readonly labels: Uint32Array | null = null;

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
    const classes = folderClasses(files);
    if (classes !== null) {
      this.classes = classes;
      this.labels = folderLabels(files, classes);
    }
  }

  /** The class (first-level subfolder) of image `index`, when every image sits in one of ≥ 2 subfolders. */
  label(index: number): number {
    if (this.labels === null) throw new RangeError(`${this.name}: the folder has no class subfolders`);
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`${this.name}: image index ${index} is out of range [0, ${this.length})`);
    return this.labels[index]!;
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

/**
 * Every PNG/JPEG under `dir` (recursively) as a data set: by default from the folder's cache file
 * (folder-cache.ts), prepared in worker threads when missing or stale and read image by image;
 * with `cache: false` decoded on this thread into an in-memory ImageFolderDataset.
 */
export async function openImageFolder(dir: string, options: FolderOpenOptions): Promise<ImageFolderDataset | CachedFolderDataset | LazyFolderDataset> {
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
  if (options.cache === false) return decodeInMemory(dir, files, imageSize, channels, options);
  const maxPixels = checkMaxPixels(options.maxImagePixels);
  let entries;
  try {
    entries = statFiles(dir, files);
  } catch (error) {
    throw new DatasetError(`cannot read image folder ${dir}: ${(error as Error).message}`);
  }
  const decoder = options.decoder ?? (await defaultDecoder());
  const file = folderCachePath(options.cacheDir ?? cacheDir(), dir, imageSize, channels, maxPixels, decoder);
  const expected = { files: entries, imageSize, channels, maxImagePixels: maxPixels, decoder };
  let opened = openFolderCache(file, expected);
  const built = opened === null;
  if (opened === null) {
    const job = { dir: resolve(dir), files, imageSize, channels, maxImagePixels: maxPixels, decoder };
    const meta = { files: entries, dir: resolve(dir) };
    const cannotWrite = (error: unknown): boolean => {
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        options.onWarning?.(`cannot write the image cache ${file} (${(error as Error).message.split('\n')[0]}); decoding ${dir} into memory instead`);
        return true;
      }
      return false;
    };
    if ((options.lazy ?? files.length >= LAZY_MIN_IMAGES) && options.workers !== 0) {
      let preparation;
      try {
        preparation = startFolderCachePreparation(file, job, meta, decodeSlots, { workers: options.workers, onProgress: options.onProgress });
      } catch (error) {
        if (cannotWrite(error)) return decodeInMemory(dir, files, imageSize, channels, options);
        throw error;
      }
      const report = (header: CacheHeader): void => {
        try {
          reportHeaderSkipped(dir, header, maxPixels, options.onWarning);
        } catch (error) {
          options.onWarning?.((error as Error).message);
        }
      };
      const lazy = new LazyFolderDataset(dir, file, preparation, job, report, options.onWarning);
      try {
        await lazy.started;
      } catch (error) {
        lazy.close();
        await lazy.ready;
        throw error;
      }
      return lazy;
    }
    try {
      await prepareFolderCache(file, job, meta, decodeSlots, { workers: options.workers, onProgress: options.onProgress });
    } catch (error) {
      if (cannotWrite(error)) return decodeInMemory(dir, files, imageSize, channels, options);
      throw error;
    }
    opened = openFolderCache(file, expected);
    if (opened === null) throw new DatasetError(`the image cache ${file} was written but does not read back (was the folder changed while it was prepared?)`);
  }
  try {
    reportHeaderSkipped(dir, opened.header, maxPixels, options.onWarning);
  } catch (error) {
    closeSync(opened.fd);
    throw error;
  }
  return new CachedFolderDataset(dir, { file, built }, opened);
}

/**
 * Folders with at least this many images are, on the run that prepares their cache, opened lazily
 * (LazyFolderDataset: training starts at once, images decoded on demand while the workers fill
 * the cache); smaller ones are prepared fully first, which takes seconds.
 */
export const LAZY_MIN_IMAGES = 5000;

function reportHeaderSkipped(dir: string, header: CacheHeader, maxPixels: number, onWarning?: (message: string) => void): void {
  const skipped: string[] = [];
  const tooLarge: string[] = [];
  for (const s of header.skipped) {
    const name = header.files[s.slot]![0];
    if (s.tooLarge) tooLarge.push(`${name} ${s.tooLarge[0]}×${s.tooLarge[1]}`);
    else skipped.push(name);
  }
  reportSkipped(dir, header.files.length, header.files.length - header.skipped.length, skipped, tooLarge, maxPixels, onWarning);
}

function checkMaxPixels(value: number | undefined): number {
  const maxPixels = value ?? DEFAULT_MAX_IMAGE_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) throw new DatasetError(`the image size limit must be a positive integer, got ${String(maxPixels)}`);
  return maxPixels;
}

/**
 * Decodes slots [from, to) of a cache preparation and writes each image at its slot's offset in
 * `fd`: the work of one chunk, in a worker thread or on this one. Returns why each was skipped (or null).
 */
export async function decodeSlots(job: PrepareJob, from: number, to: number, fd: number): Promise<SlotResult[]> {
  const sharp = job.decoder === 'sharp' ? await loadSharp() : null;
  if (job.decoder === 'sharp' && sharp === null) throw new DatasetError('the sharp package does not load in this thread');
  const per = job.channels * job.imageSize * job.imageSize;
  const buf = Buffer.alloc(per);
  const out: SlotResult[] = [];
  // With shared flags (a lazy data set reading while this runs): a slot already written (by the
  // on-demand decoder) is not decoded again; each slot's flag is set after its bytes are written.
  const flags = job.flags === undefined ? null : new Int32Array(job.flags);
  const mark = (slot: number, state: number): void => {
    if (flags === null) return;
    Atomics.store(flags, slot, state);
    Atomics.notify(flags, slot);
  };
  // A pool's shared counter past PREPARATION_STOPPED: the preparation is being stopped, so the
  // rest of this chunk is left (its results are not used).
  const next = job.next === undefined ? null : new Int32Array(job.next);
  for (let slot = from; slot < to; slot++) {
    if (next !== null && Atomics.load(next, 0) >= PREPARATION_STOPPED) break;
    if (flags !== null && Atomics.load(flags, slot) === SLOT_WRITTEN) {
      out.push(null);
      continue;
    }
    try {
      await loadImageBytesWith(sharp, readFileSync(join(job.dir, job.files[slot]!)), job, buf, 0);
    } catch (error) {
      if (error instanceof ImageTooLargeError) out.push({ reason: error.message, tooLarge: [error.width, error.height] });
      else out.push({ reason: message(error) });
      mark(slot, SLOT_FAILED);
      continue;
    }
    for (let at = 0; at < per; ) at += writeSync(fd, buf, at, per - at, slot * per + at);
    mark(slot, SLOT_WRITTEN);
    out.push(null);
  }
  return out;
}

function reportSkipped(dir: string, total: number, kept: number, skipped: readonly string[], tooLarge: readonly string[], maxPixels: number, onWarning?: (message: string) => void): void {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const reasons: string[] = [];
  if (skipped.length > 0) reasons.push(`${plural(skipped.length, 'unreadable file')} (${summarise(skipped)})`);
  if (tooLarge.length > 0) {
    reasons.push(`${plural(tooLarge.length, 'file')} larger than the limit of ${maxPixels} pixels (${summarise(tooLarge)}; raise it with --max-image-pixels)`);
  }
  if (kept === 0) {
    throw new DatasetError(`no readable images in ${dir}: all ${plural(total, 'image file')} were skipped: ${reasons.join(' and ')}`);
  }
  if (reasons.length > 0) onWarning?.(`${dir}: skipped ${reasons.join(' and ')}`);
}

/** The uncached path: every image decoded on this thread into one array. */
async function decodeInMemory(dir: string, files: readonly string[], imageSize: number, channels: 1 | 3, options: FolderOpenOptions): Promise<ImageFolderDataset> {
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
  const maxPixels = checkMaxPixels(options.maxImagePixels);
  const kept: string[] = [];
  const skipped: string[] = [];
  const tooLarge: string[] = [];
  for (const file of files) {
    try {
      loadImageBytes(await readFile(join(dir, file)), { imageSize, channels, maxImagePixels: maxPixels }, cache, kept.length * perImage);
      kept.push(file);
    } catch (error) {
      if (error instanceof ImageTooLargeError) tooLarge.push(`${file} ${error.width}×${error.height}`);
      else skipped.push(file);
    }
  }
  reportSkipped(dir, files.length, kept.length, skipped, tooLarge, maxPixels, options.onWarning);
  const compact = kept.length === files.length ? cache : cache.slice(0, kept.length * perImage);
  return new ImageFolderDataset(dir, compact, kept, { imageSize, channels });
}
