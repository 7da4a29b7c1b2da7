#!/usr/bin/env node
/**
 * Writes a folder of N procedurally drawn JPEGs (default 178×218, like CelebA's aligned crops),
 * for measuring the image-folder loader: each image a seeded gradient background with a few
 * ellipses and stripes, encoded with jpeg-js, drawn in worker threads (one per core).
 *
 *   node bench/data/make_folder.mjs --out /tmp/faces --count 200000 [--width 178] [--height 218]
 *        [--classes 0] [--quality 90] [--seed 1] [--workers <cores>] [--unique U]
 *
 * --unique U draws and encodes only U distinct images (jpeg-js's encoder takes ~30–100 ms an
 * image, 200 000 would take hours on 2 cores) and gives file i the bytes of image i mod U: every
 * file is still read and decoded on its own, so a loader's cost is the same as with N distinct
 * images (only the pictures repeat).
 *
 * With --classes K the images go into K subfolders class0 … class{K-1} (image i in class i mod K);
 * otherwise files are spread over subfolders of 10 000 (000000/ … ) to keep folders listable,
 * unless --flat. Existing files of the same name are overwritten; the content depends only on
 * the seed and the image index.
 */
import { Buffer } from 'node:buffer';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import jpeg from 'jpeg-js';

function mulberry32(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RGBA pixels of image `index`. */
function draw(index, width, height, seed) {
  const rnd = mulberry32(Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const data = Buffer.alloc(width * height * 4);
  const c0 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const c1 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const shapes = [];
  const count = 2 + Math.floor(rnd() * 4);
  for (let k = 0; k < count; k++) {
    shapes.push({ cx: rnd() * width, cy: rnd() * height, rx: 10 + rnd() * width * 0.4, ry: 10 + rnd() * height * 0.4, c: [rnd() * 255, rnd() * 255, rnd() * 255] });
  }
  const stripe = 4 + Math.floor(rnd() * 20);
  for (let y = 0; y < height; y++) {
    const t = y / (height - 1);
    for (let x = 0; x < width; x++) {
      let r = c0[0] * (1 - t) + c1[0] * t;
      let g = c0[1] * (1 - t) + c1[1] * t;
      let b = c0[2] * (1 - t) + c1[2] * t;
      for (const s of shapes) {
        const dx = (x - s.cx) / s.rx;
        const dy = (y - s.cy) / s.ry;
        if (dx * dx + dy * dy < 1) [r, g, b] = s.c;
      }
      if (((x + y) / stripe) % 2 < 0.15) {
        r *= 0.8;
        g *= 0.8;
        b *= 0.8;
      }
      const o = (y * width + x) * 4;
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
      data[o + 3] = 255;
    }
  }
  return data;
}

function pathOf(o, i) {
  const name = `${String(i).padStart(6, '0')}.jpg`;
  if (o.classes > 0) return join(o.out, `class${i % o.classes}`, name);
  if (o.flat) return join(o.out, name);
  return join(o.out, String(Math.floor(i / 10000) * 10000).padStart(6, '0'), name);
}

function writeRange(o, from, to) {
  for (let i = from; i < to; i++) {
    const data = draw(i, o.width, o.height, o.seed);
    writeFileSync(pathOf(o, i), jpeg.encode({ width: o.width, height: o.height, data }, o.quality).data);
  }
}

if (!isMainThread) {
  const o = workerData;
  parentPort.on('message', ({ from, to }) => {
    writeRange(o, from, to);
    parentPort.postMessage(to - from);
  });
} else {
  const args = process.argv.slice(2);
  const get = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const o = {
    out: get('out', undefined),
    count: Number(get('count', '1000')),
    width: Number(get('width', '178')),
    height: Number(get('height', '218')),
    classes: Number(get('classes', '0')),
    quality: Number(get('quality', '90')),
    seed: Number(get('seed', '1')),
    flat: args.includes('--flat'),
  };
  const unique = Math.min(o.count, Number(get('unique', String(o.count))));
  const workers = Math.max(1, Math.min(Number(get('workers', String(availableParallelism()))), unique));
  if (!o.out || !(o.count > 0) || !(unique > 0) || !(o.width > 0) || !(o.height > 0)) {
    console.error('usage: node bench/data/make_folder.mjs --out DIR --count N [--width 178] [--height 218] [--classes K] [--quality 90] [--seed 1] [--flat] [--workers N]');
    process.exit(2);
  }
  for (let i = 0; i < o.count; i++) {
    const dir = join(pathOf(o, i), '..');
    if (i === 0 || pathOf(o, i - 1).slice(0, dir.length) !== dir) mkdirSync(dir, { recursive: true });
  }
  const started = performance.now();
  const chunk = 200;
  let next = 0;
  let done = 0;
  let lastReport = 0;
  const self = fileURLToPath(import.meta.url);
  await Promise.all(
    Array.from({ length: workers }, () => new Promise((resolve, reject) => {
      const w = new Worker(self, { workerData: o });
      const give = () => {
        if (next >= unique) {
          void w.terminate().then(resolve);
          return;
        }
        const from = next;
        next = Math.min(unique, next + chunk);
        w.postMessage({ from, to: next });
      };
      w.on('message', (n) => {
        done += n;
        const t = performance.now();
        if (t - lastReport > 5000) {
          lastReport = t;
          process.stderr.write(`${done}/${o.count} images (${((done * 1000) / (t - started)).toFixed(0)}/s)\n`);
        }
        give();
      });
      w.on('error', reject);
      give();
    })),
  );
  if (unique < o.count) {
    const bytes = Array.from({ length: unique }, (_, i) => readFileSync(pathOf(o, i)));
    for (let i = unique; i < o.count; i++) {
      writeFileSync(pathOf(o, i), bytes[i % unique]);
      if (i % 20000 === 0) process.stderr.write(`${i}/${o.count} files written\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ out: o.out, count: o.count, unique, width: o.width, height: o.height, classes: o.classes, seconds: Number(seconds.toFixed(1)) }));
}
