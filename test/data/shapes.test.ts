import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { luma, openDataset, renderCoverage, ShapesDataset, SHAPES_DEFAULT_LENGTH, type ShapeSpec } from '../../src/data/index.js';
import { minMax, readImage, variance } from './helpers.js';

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('shapes dataset', () => {
  it('is deterministic for a seed and differs between seeds', async () => {
    const a = await openDataset('shapes', { imageSize: 32, channels: 3, seed: 7 });
    const b = await openDataset('shapes', { imageSize: 32, channels: 3, seed: 7 });
    const c = await openDataset('shapes', { imageSize: 32, channels: 3, seed: 8 });
    let differing = 0;
    for (let i = 0; i < 10; i++) {
      assert.ok(bytes(readImage(a, i)).equals(bytes(readImage(b, i))), `image ${i} differs for the same seed`);
      if (!bytes(readImage(a, i)).equals(bytes(readImage(c, i)))) differing++;
    }
    assert.equal(differing, 10, 'every image should change with the seed');
  });

  it('gives random access: an image depends only on (seed, index), not on read order', () => {
    const a = new ShapesDataset({ imageSize: 16, channels: 3, seed: 3 });
    const b = new ShapesDataset({ imageSize: 16, channels: 3, seed: 3 });
    const first = readImage(a, 123);
    for (let i = 0; i < 5; i++) readImage(b, i);
    assert.ok(bytes(first).equals(bytes(readImage(b, 123))));
    // read() writes at an offset and leaves the rest alone.
    const out = new Float32Array(2 * 3 * 16 * 16).fill(5);
    a.read(123, out, 3 * 16 * 16);
    assert.ok(out.subarray(0, 768).every((v) => v === 5));
    assert.ok(bytes(out.subarray(768)).equals(bytes(first)));
  });

  for (const size of [16, 32, 64]) {
    for (const channels of [1, 3] as const) {
      it(`${size}×${size}×${channels}: values in [-1, 1], images not blank and all different`, () => {
        const ds = new ShapesDataset({ imageSize: size, channels, seed: 1 });
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) {
          const img = readImage(ds, i);
          assert.equal(img.length, channels * size * size);
          const [lo, hi] = minMax(img);
          assert.ok(lo >= -1 && hi <= 1, `image ${i} has values in [${lo}, ${hi}]`);
          assert.ok(variance(img) > 1e-3, `image ${i} is blank`);
          seen.add(bytes(img).toString('base64'));
        }
        assert.equal(seen.size, 12, 'two images are identical');
      });
    }
  }

  it("draws the shape in its colour on the background, with anti-aliased edges", () => {
    for (const channels of [1, 3] as const) {
      const size = 32;
      const ds = new ShapesDataset({ imageSize: size, channels, seed: 11 });
      for (let i = 0; i < 40; i++) {
        const spec = ds.shapeAt(i);
        const img = readImage(ds, i);
        const colour = (c: readonly number[], ch: number) => (channels === 1 ? luma(c[0]!, c[1]!, c[2]!) : c[ch]!) * 2 - 1;
        const at = (ch: number, x: number, y: number) => img[ch * size * size + y * size + x]!;
        const cx = Math.floor(spec.cx * size);
        const cy = Math.floor(spec.cy * size);
        let edgeValues = 0;
        for (let ch = 0; ch < channels; ch++) {
          // The centre is inside every shape; a corner is outside the circumcircle.
          assert.ok(Math.abs(at(ch, cx, cy) - colour(spec.color, ch)) < 1e-5, `image ${i}: centre is not the shape colour`);
          assert.ok(Math.abs(at(ch, 0, 0) - colour(spec.background, ch)) < 1e-5, `image ${i}: corner is not the background`);
        }
        const fg = colour(spec.color, 0);
        const bg = colour(spec.background, 0);
        for (let p = 0; p < size * size; p++) {
          const t = (img[p]! - bg) / (fg - bg);
          if (t > 0.05 && t < 0.95) edgeValues++;
        }
        assert.ok(edgeValues > 0, `image ${i}: no partially covered (anti-aliased) pixels`);
      }
    }
  });

  it('shape and background contrast in luma, so grey images show the shape too', () => {
    const ds = new ShapesDataset({ imageSize: 16, channels: 1, seed: 0 });
    for (let i = 0; i < 500; i++) {
      const { color: c, background: b } = ds.shapeAt(i);
      assert.ok(Math.abs(luma(...c) - luma(...b)) >= 0.3 - 1e-12, `image ${i}: low contrast`);
      for (const v of [...c, ...b]) assert.ok(v >= 0 && v <= 1);
    }
  });

  it('varies kind, size, position and rotation within the documented ranges', () => {
    const ds = new ShapesDataset({ imageSize: 16, channels: 3, seed: 5, rotate: true });
    const kinds = new Map<string, number>();
    const radii: number[] = [];
    const rotations = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const s = ds.shapeAt(i);
      kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
      radii.push(s.radius);
      if (s.kind !== 'circle') rotations.add(s.rotation);
      assert.ok(s.radius >= 0.25 && s.radius <= 0.45);
      assert.ok(s.cx - s.radius >= -1e-12 && s.cx + s.radius <= 1 + 1e-12, 'shape leaves the image');
      assert.ok(s.cy - s.radius >= -1e-12 && s.cy + s.radius <= 1 + 1e-12, 'shape leaves the image');
    }
    for (const k of ['circle', 'square', 'triangle']) assert.ok((kinds.get(k) ?? 0) > 150, `too few ${k}s: ${kinds.get(k)}`);
    assert.ok(Math.min(...radii) < 0.27 && Math.max(...radii) > 0.42, 'radii do not span the range');
    assert.ok(rotations.size > 300, 'polygons are not rotated');
  });

  it('by default draws axis-aligned squares and upright triangles', () => {
    const size = 64;
    const ds = new ShapesDataset({ imageSize: size, channels: 1, seed: 3 });
    const img = new Float32Array(size * size);
    let checked = 0;
    for (let i = 0; i < 60 && checked < 10; i++) {
      const s = ds.shapeAt(i);
      if (s.kind === 'circle') continue;
      ds.read(i, img);
      const bg = img[0]!;
      // Rows of shape pixels: a square's rows all have the same width; a triangle's widen downwards.
      const widths: number[] = [];
      for (let y = 0; y < size; y++) {
        let w = 0;
        for (let x = 0; x < size; x++) if (Math.abs(img[y * size + x]! - bg) > 0.5 * Math.abs(img[Math.round(s.cy * size) * size + Math.round(s.cx * size)]! - bg)) w++;
        if (w > 0) widths.push(w);
      }
      const inner = widths.slice(2, -2);
      if (s.kind === 'square') assert.ok(Math.max(...inner) - Math.min(...inner) <= 2, `square ${i} is not axis-aligned: ${widths.join(',')}`);
      else assert.ok(inner[inner.length - 1]! > inner[0]! + 4, `triangle ${i} does not widen downwards: ${widths.join(',')}`);
      checked++;
    }
    assert.ok(checked >= 10);
  });

  it('covers the exact area of each shape (geometry and supersampling)', () => {
    const size = 128;
    const cov = new Float32Array(size * size);
    const base = { cx: 0.5, cy: 0.5, radius: 0.4, color: [1, 1, 1], background: [0, 0, 0] } as const;
    const cases: Array<[ShapeSpec, number]> = [
      [{ ...base, kind: 'circle', rotation: 0 }, Math.PI * 0.16],
      [{ ...base, kind: 'square', rotation: 0.1 }, 2 * 0.16],
      [{ ...base, kind: 'triangle', rotation: 0.07 }, ((3 * Math.sqrt(3)) / 4) * 0.16],
    ];
    for (const [spec, area] of cases) {
      renderCoverage(spec, size, cov);
      let sum = 0;
      for (const v of cov) sum += v;
      const measured = sum / (size * size);
      assert.ok(Math.abs(measured - area) / area < 0.005, `${spec.kind}: area ${measured} vs ${area}`);
    }
  });

  it('shows the same picture at every size', () => {
    const small = new ShapesDataset({ imageSize: 16, channels: 1, seed: 2 });
    const large = new ShapesDataset({ imageSize: 64, channels: 1, seed: 2 });
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(small.shapeAt(i), large.shapeAt(i));
      // Area-average the 64×64 image down by 4: it should match the 16×16 one closely.
      const a = readImage(small, i);
      const b = readImage(large, i);
      let err = 0;
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          let m = 0;
          for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) m += b[(4 * y + dy) * 64 + 4 * x + dx]!;
          err = Math.max(err, Math.abs(m / 16 - a[y * 16 + x]!));
        }
      }
      assert.ok(err < 0.25, `image ${i}: 16×16 and downsampled 64×64 differ by ${err}`);
    }
  });

  it('has 60000 images by default, `length` overrides, and rejects bad options and indices', async () => {
    assert.equal((await openDataset('shapes', { imageSize: 16, channels: 1 })).length, SHAPES_DEFAULT_LENGTH);
    assert.equal(SHAPES_DEFAULT_LENGTH, 60000);
    const ds = await openDataset('shapes', { imageSize: 16, channels: 3, length: 10 });
    assert.equal(ds.length, 10);
    assert.equal(ds.name, 'shapes');
    assert.throws(() => ds.read(10, new Float32Array(768)), RangeError);
    assert.throws(() => ds.read(-1, new Float32Array(768)), RangeError);
    assert.throws(() => ds.read(0, new Float32Array(767)), RangeError);
    await assert.rejects(openDataset('shapes', { imageSize: 0, channels: 1 }), { name: 'DatasetError', message: /imageSize/ });
    await assert.rejects(openDataset('shapes', { imageSize: 16, channels: 2 as 1 }), { name: 'DatasetError', message: /channels/ });
    await assert.rejects(openDataset('shapes', { imageSize: 16, channels: 1, length: 0 }), { name: 'DatasetError', message: /length/ });
  });
});
