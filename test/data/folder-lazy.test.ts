/**
 * Lazy decoding of an image folder's first run (src/data/folder-lazy.ts): the data set is usable
 * before the cache is prepared, serves the bytes the finished cache holds, finishes a cache file
 * identical to a non-lazy preparation, leaves no complete-looking cache when stopped, and gives
 * the same batches for a seed as the cached data set of later runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { CachedFolderDataset, DataLoader, DEFAULT_MAX_IMAGE_PIXELS, folderCachePath, ImageFolderDataset, LazyFolderDataset, openDataset, type ImageDataset } from '../../src/data/index.js';
import { loadSharp } from '../../src/data/folder.js';
import { encodePng, pixels, tempDir } from './helpers.js';

const root = tempDir('dcgan-flazy-');
const COUNT = 400;

function drawJpeg(w: number, h: number, seed: number): Uint8Array {
  const data = Buffer.from(pixels(w, h, (x, y) => [(x * 7 + seed * 31) & 255, (y * 5 + seed * 17) & 255, ((x ^ y) + seed * 3) & 255, 255]));
  return jpeg.encode({ width: w, height: h, data }, 90).data;
}

function makeFolder(name: string, count: number, broken: number[] = []): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const file = join(dir, `img${String(i).padStart(4, '0')}`);
    if (broken.includes(i)) writeFileSync(file + '.jpg', Buffer.from('not a jpeg'));
    else if (i % 5 === 4) writeFileSync(file + '.png', encodePng({ width: 10 + (i % 30), height: 12, colorType: 2, samples: pixels(10 + (i % 30), 12, (x, y) => [x * 9, y * 20, i & 255]) }));
    else writeFileSync(file + '.jpg', drawJpeg(20 + (i % 7), 18 + (i % 3) * 5, i));
  }
  return dir;
}

const image = (ds: ImageDataset, i: number): Float32Array => {
  const out = new Float32Array(ds.channels * ds.imageSize * ds.imageSize);
  ds.read(i, out);
  return out;
};

type Decoder = 'js' | 'sharp';

async function openLazy(dir: string, cache: string, decoder: Decoder, warnings: string[] = [], workers = 1): Promise<LazyFolderDataset> {
  const ds = await openDataset(dir, { imageSize: 8, channels: 3, cacheDir: cache, decoder, workers, lazy: true, onWarning: (m) => warnings.push(m) });
  assert.ok(ds instanceof LazyFolderDataset, 'a lazy data set on the first run');
  return ds;
}

async function openCached(dir: string, cache: string, decoder: Decoder, warnings: string[] = []): Promise<CachedFolderDataset> {
  const ds = await openDataset(dir, { imageSize: 8, channels: 3, cacheDir: cache, decoder, lazy: false, onWarning: (m) => warnings.push(m) });
  assert.ok(ds instanceof CachedFolderDataset);
  return ds;
}

const cacheFile = (dir: string, cache: string, decoder: Decoder): string => folderCachePath(cache, dir, 8, 3, DEFAULT_MAX_IMAGE_PIXELS, decoder);
const temps = (cache: string): string[] => (existsSync(join(cache, 'folders')) ? readdirSync(join(cache, 'folders')).filter((n) => n.endsWith('.tmp')) : []);

describe('lazy image folder (first run)', async () => {
  const dir = makeFolder('plain', COUNT);
  const decoders: Decoder[] = (await loadSharp()) === null ? ['js'] : ['js', 'sharp'];

  for (const decoder of decoders) {
    it(`serves the right bytes before the preparation finishes, and finishes a cache identical to a non-lazy one (${decoder})`, async () => {
      const lazyCache = join(root, `lazy-${decoder}`);
      const lazy = await openLazy(dir, lazyCache, decoder);
      assert.equal(lazy.length, COUNT);
      assert.equal(existsSync(cacheFile(dir, lazyCache, decoder)), false, 'no cache file before the preparation ends');
      // Read from the end backwards: the worker fills from slot 0, so these are decoded on demand.
      const early = new Map<number, Float32Array>();
      for (const i of [COUNT - 1, COUNT - 2, COUNT - 7, 5, 200]) early.set(i, image(lazy, i));
      assert.equal(lazy.complete, false, 'read before the preparation finished');
      assert.ok(lazy.onDemand >= 1, 'at least one image was decoded on demand');
      assert.equal(await lazy.ready, true);
      assert.equal(lazy.complete, true);
      assert.deepEqual(temps(lazyCache), [], 'the temporary file was renamed');

      const plainCache = join(root, `plain-${decoder}`);
      const plain = await openCached(dir, plainCache, decoder);
      assert.ok(readFileSync(cacheFile(dir, lazyCache, decoder)).equals(readFileSync(cacheFile(dir, plainCache, decoder))), 'the lazy and non-lazy cache files are byte for byte equal');
      for (const [i, img] of early) assert.deepEqual(img, image(plain, i), `image ${i} on demand = the cache's`);
      if (decoder === 'js') {
        const memory = await openDataset(dir, { imageSize: 8, channels: 3, cache: false });
        assert.ok(memory instanceof ImageFolderDataset);
        for (const [i, img] of early) assert.deepEqual(img, image(memory, i));
      }
      // After the preparation the lazy data set still reads (from the renamed file).
      assert.deepEqual(image(lazy, 3), image(plain, 3));
      lazy.close();
      plain.close();

      const again = await openDataset(dir, { imageSize: 8, channels: 3, cacheDir: lazyCache, decoder, lazy: true });
      assert.ok(again instanceof CachedFolderDataset, 'a later open reuses the cache');
      assert.equal(again.cache.built, false);
      assert.equal(again.length, COUNT);
      again.close();
    });
  }

  it('gives the same batches for a seed as the cached data set of a later run', async () => {
    const cache = join(root, 'batches');
    const lazy = await openLazy(dir, cache, 'js');
    const batches = (ds: ImageDataset): Float32Array[] => {
      const loader = new DataLoader(ds, { batchSize: 32, seed: 7 });
      const out: Float32Array[] = [];
      for (let b = 0; b < 15; b++) {
        const batch = loader.next();
        out.push(Float32Array.from(batch.images.data));
        batch.images.dispose();
      }
      return out;
    };
    const fromLazy = batches(lazy);
    assert.equal(await lazy.ready, true);
    lazy.close();
    const cached = await openCached(dir, cache, 'js');
    assert.equal(cached.cache.built, false);
    assert.deepEqual(fromLazy, batches(cached));
    cached.close();
  });

  it('close() before the end aborts the preparation: no cache file and no temporary file are left', async () => {
    const cache = join(root, 'aborted');
    const lazy = await openLazy(dir, cache, 'js');
    image(lazy, COUNT - 1);
    lazy.close();
    assert.equal(await lazy.ready, false);
    assert.equal(existsSync(cacheFile(dir, cache, 'js')), false);
    assert.deepEqual(temps(cache), []);
    assert.throws(() => image(lazy, 0), /closed/);
  });

  it('a process killed mid-way leaves no complete-looking cache; the next open prepares it again', async () => {
    const cache = join(root, 'killed');
    const script = `
      import { openDataset } from ${JSON.stringify(new URL('../../src/data/index.js', import.meta.url).href.replace(/\.js$/, '.ts'))};
      const ds = await openDataset(${JSON.stringify(dir)}, { imageSize: 8, channels: 3, cacheDir: ${JSON.stringify(cache)}, decoder: 'js', workers: 1, lazy: true });
      const out = new Float32Array(ds.channels * 64);
      ds.read(${COUNT - 1}, out);
      process.kill(process.pid, 'SIGKILL');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(existsSync(cacheFile(dir, cache, 'js')), false, 'no file at the cache name');
    assert.equal(temps(cache).length, 1, 'the temporary file of the killed run is left');
    const next = await openCached(dir, cache, 'js');
    assert.equal(next.cache.built, true, 'prepared again, not trusted');
    assert.deepEqual(temps(cache), [], "the killed run's temporary file was removed");
    next.close();
  });

  it('serves a neighbour for an image that fails to decode, warns once the cache is done, and the cache skips it', async () => {
    const bad = makeFolder('broken', 60, [10, 59]);
    const cache = join(root, 'broken-c');
    const warnings: string[] = [];
    const lazy = await openLazy(bad, cache, 'js', warnings);
    assert.equal(lazy.length, 60);
    assert.deepEqual(image(lazy, 10), image(lazy, 11), 'a failed image is served as the next readable one');
    assert.deepEqual(image(lazy, 59), image(lazy, 0), 'wrapping around at the end');
    assert.equal(await lazy.ready, true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /skipped 2 unreadable files \(img0010\.jpg, img0059\.jpg\)/);
    lazy.close();
    const cached = await openCached(bad, cache, 'js');
    assert.equal(cached.length, 58);
    cached.close();
  });

  it('is the default only for large folders (a small one is prepared before openDataset returns)', async () => {
    const cache = join(root, 'default');
    const ds = await openDataset(dir, { imageSize: 8, channels: 3, cacheDir: cache, decoder: 'js', workers: 1 });
    assert.ok(ds instanceof CachedFolderDataset);
    (ds as CachedFolderDataset).close();
  });
});
