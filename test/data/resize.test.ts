import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { axisPlan, SquareResizer } from '../../src/data/index.js';

function resize1d(src: number[], m: number): number[] {
  const p = axisPlan(src.length, m);
  return Array.from({ length: m }, (_, j) => {
    let acc = 0;
    for (let k = p.start[j]!; k < p.start[j]! + p.count[j]!; k++) acc += p.weight[k]! * src[p.index[k]!]!;
    return acc;
  });
}

const close = (a: number[], b: number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-12, `${a} vs ${b}`));

describe('resize', () => {
  it('weights of every output sum to one', () => {
    for (const [n, m] of [[28, 32], [28, 16], [7, 3], [3, 7], [256, 16], [5, 5]] as const) {
      const p = axisPlan(n, m);
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let k = p.start[j]!; k < p.start[j]! + p.count[j]!; k++) s += p.weight[k]!;
        assert.ok(Math.abs(s - 1) < 1e-12, `${n}→${m} output ${j} sums to ${s}`);
      }
    }
  });

  it('averages areas when shrinking, including fractional overlaps', () => {
    close(resize1d([0, 2, 4, 6], 2), [1, 5]);
    // 3 → 2: output 0 covers [0, 1.5): (a + b/2) / 1.5.
    close(resize1d([3, 6, 9], 2), [(3 + 3) / 1.5, (3 + 9) / 1.5]);
  });

  it('interpolates bilinearly with half-pixel centres when enlarging', () => {
    close(resize1d([0, 1], 4), [0, 0.25, 0.75, 1]);
    close(resize1d([2, 4, 8], 3), [2, 4, 8]);
  });

  it('crops the centre square of a non-square image', () => {
    const r = new SquareResizer(30, 20, 20);
    assert.deepEqual([r.side, r.cropX, r.cropY], [20, 5, 0]);
    const t = new SquareResizer(9, 12, 3);
    assert.deepEqual([t.side, t.cropX, t.cropY], [9, 0, 1]);
    // A 4×2 image whose columns are 0,1,2,3 → crop columns 1,2 → same size: copy.
    const out = new Float64Array(4);
    new SquareResizer(4, 2, 2).resize([0, 1, 2, 3, 0, 1, 2, 3], 0, 1, 4, out, 0);
    assert.deepEqual(Array.from(out), [1, 2, 1, 2]);
  });

  it('reads interleaved channels through pixel and row strides', () => {
    // 2×2 RGB, interleaved; read the green channel and shrink to 1×1: the mean.
    const rgb = [0, 10, 0, 0, 20, 0, 0, 30, 0, 0, 40, 0];
    const out = new Float32Array(1);
    new SquareResizer(2, 2, 1).resize(rgb, 1, 3, 6, out, 0);
    assert.equal(out[0], 25);
  });
});
