/**
 * The image folder's persistent cache (src/data/folder-cache.ts): built once and reused, rebuilt
 * when the folder changes or the file is damaged, parallel preparation byte-identical to the
 * single-thread decode, class labels from subfolders, and no half cache after a failed preparation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { CachedFolderDataset, DatasetError, folderCachePath, ImageFolderDataset, openDataset, parseFolderCache, DEFAULT_MAX_IMAGE_PIXELS, type ImageDataset } from '../../src/data/index.js';
import { encodePng, pixels, tempDir } from './helpers.js';

const root = tempDir('dcgan-fcache-');

/** A JPEG of w×h with content drawn from `seed`. */
function drawJpeg(w: number, h: number, seed: number): Uint8Array {
  const data = Buffer.from(pixels(w, h, (x, y) => [(x * 7 + seed * 31) & 255, (y * 5 + seed * 17) & 255, ((x ^ y) + seed * 3) & 255, 255]));
  return jpeg.encode({ width: w, height: h, data }, 90).data;
}

function makeFolder(name: string, count: number, classes: string[] | null = null): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const sub = classes === null ? dir : join(dir, classes[i % classes.length]!);
    mkdirSync(sub, { recursive: true });
    const file = join(sub, `img${String(i).padStart(3, '0')}`);
    if (i % 5 === 4) writeFileSync(file + '.png', encodePng({ width: 10 + i, height: 12, colorType: 2, samples: pixels(10 + i, 12, (x, y) => [x * 9, y * 20, i * 6]) }));
    else writeFileSync(file + '.jpg', drawJpeg(20 + (i % 7), 18 + (i % 3) * 5, i));
  }
  return dir;
}

function allImages(ds: ImageDataset): Float32Array {
  const per = ds.channels * ds.imageSize * ds.imageSize;
  const out = new Float32Array(ds.length * per);
  for (let i = 0; i < ds.length; i++) ds.read(i, out, i * per);
  return out;
}

async function open(dir: string, cache: string, extra: { decoder?: 'js' | 'sharp'; workers?: number; onProgress?: (d: number, t: number) => void; warnings?: string[]; channels?: 1 | 3 } = {}): Promise<CachedFolderDataset> {
  const ds = await openDataset(dir, { imageSize: 8, channels: extra.channels ?? 3, cacheDir: cache, decoder: extra.decoder ?? 'js', workers: extra.workers, onProgress: extra.onProgress, onWarning: (m) => extra.warnings?.push(m) });
  assert.ok(ds instanceof CachedFolderDataset, 'a cached data set');
  return ds;
}

const cacheFile = (dir: string, cache: string, channels: 1 | 3 = 3): string => folderCachePath(cache, dir, 8, channels, DEFAULT_MAX_IMAGE_PIXELS, 'js');

describe('image folder cache', () => {
  const dir = makeFolder('plain', 40);
  writeFileSync(join(dir, 'broken.jpg'), Buffer.from('not a jpeg'));

  it('is built on first use and reused (not decoded again) while the folder is unchanged', async () => {
    const cache = join(root, 'c1');
    const warnings: string[] = [];
    const first = await open(dir, cache, { warnings });
    assert.equal(first.cache.built, true);
    assert.equal(first.length, 40);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /skipped 1 unreadable file \(broken\.jpg\)/);
    const file = cacheFile(dir, cache);
    assert.equal(first.cache.file, file);
    const mtime = statSync(file).mtimeMs;
    const warnings2: string[] = [];
    const second = await open(dir, cache, { warnings: warnings2, onProgress: () => assert.fail('no decoding on a warm cache') });
    assert.equal(second.cache.built, false);
    assert.equal(statSync(file).mtimeMs, mtime, 'the cache file is not rewritten');
    assert.deepEqual(warnings2, warnings, 'the skipped files are remembered');
    assert.deepEqual(allImages(second), allImages(first));
    assert.deepEqual(second.files, first.files);
    assert.equal(second.classes, undefined);
    first.close();
    second.close();
    assert.throws(() => second.read(0, new Float32Array(3 * 64)), DatasetError);
  });

  it('gives byte-identical images from worker threads, this thread and the in-memory decode', async () => {
    const parallel = await open(dir, join(root, 'c2'), { workers: 2 });
    const single = await open(dir, join(root, 'c3'), { workers: 0 });
    const memory = await openDataset(dir, { imageSize: 8, channels: 3, cache: false, onWarning: () => {} });
    assert.ok(memory instanceof ImageFolderDataset);
    assert.deepEqual(parallel.files, memory.files);
    assert.deepEqual(allImages(parallel), allImages(memory));
    assert.deepEqual(allImages(single), allImages(memory));
    assert.deepEqual(readFileSync(parallel.cache.file).subarray(0, 41 * 192), readFileSync(single.cache.file).subarray(0, 41 * 192));
    // Grey too.
    const grey = await open(dir, join(root, 'c2'), { channels: 1 });
    const greyMemory = await openDataset(dir, { imageSize: 8, channels: 1, cache: false, onWarning: () => {} });
    assert.deepEqual(allImages(grey), allImages(greyMemory));
    assert.notEqual(grey.cache.file, parallel.cache.file, 'one cache per channel count');
  });

  it('decodes JPEGs with sharp when asked: same result from workers and this thread, close to jpeg-js', async () => {
    const parallel = await open(dir, join(root, 'c11'), { decoder: 'sharp', workers: 2 });
    const single = await open(dir, join(root, 'c12'), { decoder: 'sharp', workers: 0 });
    const js = await open(dir, join(root, 'c11'), { decoder: 'js' });
    assert.notEqual(parallel.cache.file, js.cache.file, 'one cache per decoder');
    assert.deepEqual(parallel.files, js.files);
    const a = allImages(parallel);
    assert.deepEqual(allImages(single), a);
    const b = allImages(js);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    assert.ok(sum / a.length < 0.02, `mean difference ${sum / a.length} (in [-1, 1] units)`);
  });

  it('reports progress up to the total', async () => {
    const seen: Array<[number, number]> = [];
    await open(dir, join(root, 'c4'), { onProgress: (d, t) => seen.push([d, t]) });
    assert.ok(seen.length >= 2);
    assert.deepEqual(seen.at(-1), [41, 41]);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] > seen[i - 1]![0]);
  });

  it('is rebuilt when a file is added, removed or touched', async () => {
    const d = makeFolder('changing', 12);
    const cache = join(root, 'c5');
    assert.equal((await open(d, cache)).cache.built, true);
    assert.equal((await open(d, cache)).cache.built, false);
    writeFileSync(join(d, 'new.jpg'), drawJpeg(16, 16, 99));
    const added = await open(d, cache);
    assert.equal(added.cache.built, true);
    assert.equal(added.length, 13);
    unlinkSync(join(d, 'img000.jpg'));
    const removed = await open(d, cache);
    assert.equal(removed.cache.built, true);
    assert.equal(removed.length, 12);
    assert.equal((await open(d, cache)).cache.built, false);
    const touched = join(d, 'img001.jpg');
    const t = statSync(touched).mtime;
    utimesSync(touched, t, new Date(t.getTime() + 5000));
    assert.equal((await open(d, cache)).cache.built, true);
    // Same size, new content, new mtime: rebuilt and the new pixels are read.
    writeFileSync(touched, drawJpeg(21, 18, 1234));
    utimesSync(touched, t, new Date(t.getTime() + 10000));
    const rewritten = await open(d, cache);
    assert.equal(rewritten.cache.built, true);
    const memory = await openDataset(d, { imageSize: 8, channels: 3, cache: false });
    assert.deepEqual(allImages(rewritten), allImages(memory));
  });

  it('rebuilds a corrupt, truncated, foreign or empty cache file instead of failing', async () => {
    const d = makeFolder('damaged', 10);
    const cache = join(root, 'c6');
    const good = await open(d, cache);
    const expected = allImages(good);
    const file = good.cache.file;
    const bytes = readFileSync(file);
    const damage: Array<[string, () => void]> = [
      ['truncated by one byte', () => truncateSync(file, bytes.length - 1)],
      ['truncated to half', () => truncateSync(file, Math.floor(bytes.length / 2))],
      ['empty', () => writeFileSync(file, '')],
      ['a header byte flipped', () => {
        const b = Buffer.from(bytes);
        b[b.length - 40]! ^= 0x20;
        writeFileSync(file, b);
      }],
      ['a footer length changed', () => {
        const b = Buffer.from(bytes);
        b.writeUInt32LE(b.readUInt32LE(b.length - 8) + 1, b.length - 8);
        writeFileSync(file, b);
      }],
      ['random bytes', () => writeFileSync(file, Buffer.alloc(5000, 7))],
      ['a folder in its place', () => {
        rmSync(file);
        mkdirSync(file);
      }],
    ];
    for (const [what, spoil] of damage) {
      spoil();
      if (statSync(file).isDirectory()) {
        // A folder at the cache's name cannot be replaced by rename: decoded into memory, with a warning.
        const warnings: string[] = [];
        const mem = await openDataset(d, { imageSize: 8, channels: 3, cacheDir: cache, decoder: 'js', onWarning: (m) => warnings.push(m) });
        assert.ok(mem instanceof ImageFolderDataset, what);
        assert.match(warnings.join('\n'), /cannot write the image cache/, what);
        assert.deepEqual(allImages(mem), expected, what);
        rmSync(file, { recursive: true });
        continue;
      }
      const ds = await open(d, cache);
      assert.equal(ds.cache.built, true, what);
      assert.deepEqual(allImages(ds), expected, what);
      assert.deepEqual(readFileSync(file), bytes, what);
    }
  });

  it('labels images by class subfolder', async () => {
    const d = makeFolder('classes', 12, ['cat', 'dog', 'bird']);
    const ds = await open(d, join(root, 'c7'));
    assert.deepEqual(ds.classes, ['bird', 'cat', 'dog']);
    for (let i = 0; i < ds.length; i++) assert.equal(ds.classes![ds.label(i)], ds.files[i]!.split('/')[0]);
    const again = await open(d, join(root, 'c7'));
    assert.equal(again.cache.built, false);
    assert.deepEqual(again.classes, ds.classes);
    const memory = await openDataset(d, { imageSize: 8, channels: 3, cache: false });
    assert.deepEqual(memory.classes, ds.classes);
    assert.equal(memory.label!(5), ds.label(5));
    // One subfolder, or images beside the subfolders: no labels.
    const single = makeFolder('one-class', 4, ['only']);
    assert.equal((await open(single, join(root, 'c7'))).classes, undefined);
  });

  it('leaves no cache after a preparation that fails midway, and never takes a leftover temporary file for one', async () => {
    const d = makeFolder('killed', 30);
    const cache = join(root, 'c8');
    const file = cacheFile(d, cache);
    let calls = 0;
    await assert.rejects(
      open(d, cache, {
        onProgress: () => {
          assert.equal(existsSync(file), false, 'nothing at the cache name while preparing');
          if (++calls === 2) throw new Error('killed');
        },
      }),
      /killed/,
    );
    assert.equal(existsSync(file), false);
    assert.deepEqual(readdirSync(join(cache, 'folders')), [], 'the temporary file is removed');
    // A process killed mid-write leaves its temporary file (here: a finished cache under a temp
    // name of a process that is gone). It is not used, and the next preparation removes it.
    const built = await open(d, join(root, 'c9'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const leftover = join(cache, 'folders', `.${file.split('/').at(-1)}.${dead}.abc123.tmp`);
    writeFileSync(leftover, readFileSync(built.cache.file).subarray(0, 1000));
    const ds = await open(d, cache);
    assert.equal(ds.cache.built, true);
    assert.equal(existsSync(leftover), false, 'the stale temporary file is removed');
    assert.deepEqual(readdirSync(join(cache, 'folders')), [file.split('/').at(-1)]);
  });

  it('parses its own files and rejects damaged ones with DatasetError', async () => {
    const d = makeFolder('parse', 5);
    const ds = await open(d, join(root, 'c10'));
    const bytes = readFileSync(ds.cache.file);
    const header = parseFolderCache(bytes);
    assert.equal(header.files.length, 5);
    assert.equal(header.imageSize, 8);
    assert.throws(() => parseFolderCache(bytes.subarray(0, bytes.length - 3)), DatasetError);
    assert.throws(() => parseFolderCache(new Uint8Array(0)), DatasetError);
  });
});

describe('preparation progress (dcgan train)', () => {
  it('shows nothing for a preparation within a second, then one JSON line a second and the last', async () => {
    const { createPreparationProgress } = await import('../../src/cli/progress.js');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    let clock = 0;
    process.stdout.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const quick = createPreparationProgress('json', 'x', () => clock);
      quick.onProgress(5, 10);
      clock = 500;
      quick.onProgress(10, 10);
      assert.equal(quick.stop(), 0.5);
      assert.deepEqual(lines, [], 'a preparation under a second shows nothing');
      clock = 0;
      const slow = createPreparationProgress('json', 'x', () => clock);
      for (let done = 1; done <= 30; done++) {
        clock = done * 200;
        slow.onProgress(done, 30);
      }
      slow.stop();
      const before = lines.length;
      clock = 100_000;
      slow.onProgress(31, 40); // a lazy folder's cache still filling while training runs
      assert.equal(lines.length, before, 'nothing is shown after stop()');
    } finally {
      process.stdout.write = write;
    }
    const events = lines.map((l) => JSON.parse(l) as { event: string; done: number; total: number });
    assert.ok(events.length >= 5 && events.length <= 7, `${events.length} lines`);
    assert.ok(events.every((e) => e.event === 'prepare' && e.total === 30));
    assert.equal(events.at(-1)!.done, 30);
  });
});
