import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataLoader, DatasetError, epochPermutation, ShapesDataset, type ImageDataset } from '../../src/data/index.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** A dataset whose image i is filled with the number i, so a batch tells which indices it holds. */
class IndexDataset implements ImageDataset {
  readonly name = 'index';
  readonly channels = 1 as const;
  readonly imageSize = 2;
  constructor(readonly length: number) {}
  read(index: number, out: Float32Array, offset = 0): void {
    out.fill(index, offset, offset + 4);
  }
}

/** The dataset indices a batch holds (checking each image is constant). */
function ids(images: Tensor): number[] {
  const [b, c, h, w] = images.shape as [number, number, number, number];
  const per = c * h * w;
  const out: number[] = [];
  for (let k = 0; k < b; k++) {
    const img = images.data.subarray(k * per, (k + 1) * per);
    assert.ok(img.every((v) => v === img[0]), 'an image mixes indices');
    out.push(img[0]!);
  }
  return out;
}

function take(loader: DataLoader, n: number): Array<{ ids: number[]; epoch: number; batchIndex: number }> {
  return Array.from({ length: n }, () => {
    const { images, epoch, batchIndex } = loader.next();
    return { ids: ids(images), epoch, batchIndex };
  });
}

describe('DataLoader', () => {
  it('yields [B, C, H, W] tensors of dataset images', () => {
    const ds = new ShapesDataset({ imageSize: 16, channels: 3, seed: 4, length: 50 });
    const loader = new DataLoader(ds, { batchSize: 8, seed: 1 });
    const { images } = loader.next();
    assert.ok(images instanceof Tensor);
    assert.deepEqual(images.shape, [8, 3, 16, 16]);
    const expected = new Float32Array(8 * 768);
    loader.indices(0, 0).forEach((id, k) => ds.read(id, expected, k * 768));
    assert.deepEqual(images.data, expected);
    const second = loader.next().images;
    assert.notEqual(second, images);
    assert.notDeepEqual(second.data, images.data);
  });

  it('visits every index exactly once per epoch, dropping the partial batch by default', () => {
    const loader = new DataLoader(new IndexDataset(10), { batchSize: 3, seed: 5 });
    assert.equal(loader.batchesPerEpoch, 3);
    const batches = take(loader, 6);
    for (const epoch of [0, 1]) {
      const inEpoch = batches.filter((b) => b.epoch === epoch);
      assert.deepEqual(inEpoch.map((b) => b.batchIndex), [0, 1, 2]);
      const all = inEpoch.flatMap((b) => b.ids);
      assert.equal(all.length, 9);
      assert.equal(new Set(all).size, 9, 'an index repeats within an epoch');
      for (const b of inEpoch) assert.equal(b.ids.length, 3);
    }
  });

  it('keeps the last partial batch with dropLast: false', () => {
    const loader = new DataLoader(new IndexDataset(10), { batchSize: 3, seed: 5, dropLast: false });
    assert.equal(loader.batchesPerEpoch, 4);
    const batches = take(loader, 8);
    assert.deepEqual(batches.map((b) => b.ids.length), [3, 3, 3, 1, 3, 3, 3, 1]);
    for (const epoch of [0, 1]) {
      const all = batches.filter((b) => b.epoch === epoch).flatMap((b) => b.ids);
      assert.deepEqual([...all].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    const { images } = new DataLoader(new IndexDataset(10), { batchSize: 3, dropLast: false, shuffle: false }).next();
    assert.deepEqual(images.shape, [3, 1, 2, 2]);
  });

  it('shuffles differently each epoch and each seed, identically for the same seed', () => {
    const order = (seed: number, batches: number) => take(new DataLoader(new IndexDataset(64), { batchSize: 64, seed }), batches).map((b) => b.ids);
    const [e0, e1, e2] = order(9, 3);
    assert.notDeepEqual(e0, e1);
    assert.notDeepEqual(e1, e2);
    assert.notDeepEqual(e0, [...e0!].sort((a, b) => a - b), 'epoch 0 is not shuffled');
    assert.deepEqual(order(9, 3), [e0, e1, e2]);
    assert.notDeepEqual(order(10, 1)[0], e0);
  });

  it('reads in index order with shuffle: false', () => {
    const batches = take(new DataLoader(new IndexDataset(6), { batchSize: 2, shuffle: false }), 4);
    assert.deepEqual(batches.map((b) => b.ids), [[0, 1], [2, 3], [4, 5], [0, 1]]);
    assert.deepEqual(batches.map((b) => b.epoch), [0, 0, 0, 1]);
  });

  it('restore(state) resumes the identical sequence, across epoch boundaries', () => {
    for (const stopAfter of [0, 2, 3, 7]) {
      const a = new DataLoader(new IndexDataset(13), { batchSize: 4, seed: 77 });
      take(a, stopAfter);
      const state = a.state();
      assert.equal(state.seed, 77);
      const b = new DataLoader(new IndexDataset(13), { batchSize: 4, seed: 0 }); // the state's seed wins
      b.restore(JSON.parse(JSON.stringify(state)));
      assert.deepEqual(take(b, 8), take(a, 8), `after ${stopAfter} batches`);
    }
    const c = new DataLoader(new IndexDataset(13), { batchSize: 4 });
    take(c, 3);
    assert.deepEqual(c.state(), { epoch: 1, batchIndex: 0, seed: 0 }, 'state after a finished epoch points at the next one');
  });

  it('rejects a batch larger than the dataset, bad sizes and bad states', () => {
    assert.throws(() => new DataLoader(new IndexDataset(5), { batchSize: 6 }), (e: Error) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, /batch size 6 is larger than the dataset index \(5 images\)/);
      return true;
    });
    assert.throws(() => new DataLoader(new IndexDataset(5), { batchSize: 0 }), DatasetError);
    assert.throws(() => new DataLoader(new IndexDataset(5), { batchSize: 2.5 }), DatasetError);
    const loader = new DataLoader(new IndexDataset(5), { batchSize: 5 });
    assert.throws(() => loader.restore({ epoch: -1, batchIndex: 0, seed: 0 }), DatasetError);
    assert.throws(() => loader.restore({ epoch: 0, batchIndex: 2, seed: 0 }), DatasetError);
    assert.throws(() => loader.restore({ epoch: 0, batchIndex: 0, seed: Number.NaN }), DatasetError);
  });

  it('epochPermutation is an unbiased permutation (Fisher–Yates, not Sattolo)', () => {
    const n = 5;
    const counts = new Array<number>(n).fill(0);
    let fixedFirst = 0;
    const trials = 5000;
    for (let e = 0; e < trials; e++) {
      const p = epochPermutation(n, 3, e);
      assert.deepEqual([...p].sort(), [0, 1, 2, 3, 4]);
      counts[p[0]!]!++;
      if (p[0] === 0) fixedFirst++;
    }
    for (const c of counts) assert.ok(Math.abs(c - trials / n) < 150, `first position counts ${counts}`);
    assert.ok(fixedFirst > 0);
    assert.deepEqual(epochPermutation(100, 8, 2), epochPermutation(100, 8, 2));
  });
});
