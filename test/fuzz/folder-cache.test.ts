/**
 * Fuzzing the image-folder cache file's reader (footer, then header: parseFolderCache, the checks
 * openFolderCache makes before trusting a cache). See harness.ts.
 */
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { DatasetError, parseFolderCache, type CacheHeader } from '../../src/data/index.js';
import { encodeCacheTail, FOLDER_CACHE_FOOTER, FOLDER_CACHE_VERSION, folderLabels } from '../../src/data/folder-cache.js';
import { fuzzTest, type FuzzRandom } from './harness.js';

function cacheBytes(header: CacheHeader): Uint8Array {
  const slots = header.files.length * header.channels * header.imageSize * header.imageSize;
  const tail = encodeCacheTail(header, slots);
  const out = new Uint8Array(slots + tail.length);
  for (let i = 0; i < slots; i++) out[i] = (i * 37) & 255;
  out.set(tail, slots);
  return out;
}

const base = { format: 'dcgan-folder-cache' as const, version: FOLDER_CACHE_VERSION, dir: '/data/x', maxImagePixels: 64_000_000, decoder: 'js' as const };
const seeds = [
  cacheBytes({ ...base, imageSize: 2, channels: 3, files: [['a/1.jpg', 100, 1.5e12], ['b/2.png', 90, 1.6e12], ['b/3.png', 5, 1.7e12]], skipped: [{ slot: 2, reason: 'corrupt PNG' }], classes: ['a', 'b'] }),
  cacheBytes({ ...base, imageSize: 3, channels: 1, files: [['x.jpg', 10, 0], ['y.jpg', 20, 1]], skipped: [{ slot: 0, reason: 'too large', tooLarge: [9000, 9000] }], classes: null }),
];

/** Changes the header's bytes and then fixes its checksum, so the JSON checks are reached. */
function mutateHeader(bytes: Uint8Array, rng: FuzzRandom): Uint8Array {
  if (bytes.length < FOLDER_CACHE_FOOTER) return bytes;
  const out = Uint8Array.from(bytes);
  const f = new DataView(out.buffer, out.length - FOLDER_CACHE_FOOTER);
  const start = f.getUint32(8, true);
  const length = f.getUint32(16, true);
  if (start + length > out.length - FOLDER_CACHE_FOOTER) return out;
  const header = out.subarray(start, start + length);
  const replacements = ['0', '-1', '1e400', 'null', '"', '[]', '{}', '99999999999', '3', '2'];
  // Replace one digit run or punctuation with another token, keeping the length when possible.
  for (let k = 0, n = 1 + rng.int(3); k < n && header.length > 0; k++) {
    const at = rng.int(header.length);
    const token = new TextEncoder().encode(rng.pick(replacements));
    header.set(token.subarray(0, Math.min(token.length, header.length - at)), at);
  }
  f.setUint32(20, crc32(header) >>> 0, true);
  return out;
}

fuzzTest<CacheHeader>({
  name: 'folder-cache',
  seeds,
  parse: (bytes) => {
    const header = parseFolderCache(bytes);
    if (header.classes !== null) {
      const skipped = new Set(header.skipped.map((s) => s.slot));
      folderLabels(header.files.filter((_, i) => !skipped.has(i)).map(([p]) => p), header.classes);
    }
    return header;
  },
  allowedErrors: [DatasetError],
  check: (header, input) => {
    const per = header.channels * header.imageSize * header.imageSize;
    const offset = header.files.length * per;
    assert.ok(offset + FOLDER_CACHE_FOOTER < input.length);
    for (const s of header.skipped) assert.ok(s.slot < header.files.length);
  },
  fields: (seed) => [
    { offset: seed.length - 16, size: 4, littleEndian: true },
    { offset: seed.length - 12, size: 4, littleEndian: true },
    { offset: seed.length - 8, size: 4, littleEndian: true },
  ],
  mutators: [mutateHeader, mutateHeader],
  iterations: 600,
});
