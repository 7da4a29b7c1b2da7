/**
 * Convolution as a matrix (DESIGN §2): C is built from the definition and checked against
 * the real conv2d / convTranspose2d kernels, here with matrices the test builds on its own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conv2d, convTranspose2d, explain, tensor } from '../src/index.js';
import { assertClose, randomValues } from './helpers.js';

interface Geometry {
  input: number;
  kernel: number;
  stride: number;
  padding: number;
}

function outSize({ input, kernel, stride, padding }: Geometry): number {
  return Math.floor((input + 2 * padding - kernel) / stride) + 1;
}

/**
 * C for a square single-channel convolution, built straight from the definition
 * y[oy, ox] = Σ_{i,j} w[i, j] · x[oy·s − p + i, ox·s − p + j] (terms outside the input are zero).
 * Dense float64, rows = output pixels, columns = input pixels, both row by row.
 */
function referenceMatrix(g: Geometry, kernel: ArrayLike<number>): { c: Float64Array; rows: number; cols: number } {
  const out = outSize(g);
  const rows = out * out;
  const cols = g.input * g.input;
  const c = new Float64Array(rows * cols);
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      for (let i = 0; i < g.kernel; i++) {
        for (let j = 0; j < g.kernel; j++) {
          const iy = oy * g.stride - g.padding + i;
          const ix = ox * g.stride - g.padding + j;
          if (iy < 0 || iy >= g.input || ix < 0 || ix >= g.input) continue;
          c[(oy * out + ox) * cols + iy * g.input + ix]! += kernel[i * g.kernel + j]!;
        }
      }
    }
  }
  return { c, rows, cols };
}

function multiply(m: Float64Array, rows: number, cols: number, v: ArrayLike<number>, transpose: boolean): Float64Array {
  const out = new Float64Array(transpose ? cols : rows);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      if (transpose) out[k]! += m[r * cols + k]! * v[r]!;
      else out[r]! += m[r * cols + k]! * v[k]!;
    }
  }
  return out;
}

/** Every valid case of the grid: input 3..8, padding 0..2, kernel 1..min(padded input, 5), stride 1..3. */
function grid(): Geometry[] {
  const cases: Geometry[] = [];
  for (let input = 3; input <= 8; input++) {
    for (let padding = 0; padding <= 2; padding++) {
      for (let kernel = 1; kernel <= Math.min(input + 2 * padding, 5); kernel++) {
        for (let stride = 1; stride <= 3; stride++) cases.push({ input, kernel, stride, padding });
      }
    }
  }
  return cases;
}

const name = (g: Geometry): string => `input ${g.input}, kernel ${g.kernel}, stride ${g.stride}, padding ${g.padding}`;

describe('convMatrix: the seed case (4×4 input, 3×3 kernel, stride 1, padding 0)', () => {
  const m = explain.convMatrix(explain.squareSpec(4, 3));

  test('is 4×16 with a 2×2 output', () => {
    assert.equal(m.rows, 4);
    assert.equal(m.cols, 16);
    assert.equal(m.outH, 2);
    assert.equal(m.outW, 2);
    assert.equal(m.entries.length, 64);
  });

  test('has exactly 36 nonzeros, 9 per row, holding kernel indices 0..8 in order', () => {
    let nonzeros = 0;
    for (let r = 0; r < 4; r++) {
      const row = Array.from(m.entries.subarray(r * 16, (r + 1) * 16));
      const present = row.filter((k) => k >= 0);
      nonzeros += present.length;
      assert.deepEqual(present, [0, 1, 2, 3, 4, 5, 6, 7, 8], `row ${r}`);
      assert.ok(row.every((k) => k >= -1 && k <= 8), `row ${r} holds only -1 (zero) or kernel indices`);
    }
    assert.equal(nonzeros, 36);
  });

  test("row r's first nonzero is at column (r div 2)·4 + (r mod 2), and the kernel rows sit 4 columns apart", () => {
    for (let r = 0; r < 4; r++) {
      const row = Array.from(m.entries.subarray(r * 16, (r + 1) * 16));
      const first = (Math.floor(r / 2)) * 4 + (r % 2);
      assert.equal(row.findIndex((k) => k >= 0), first, `row ${r}`);
      // w(i, j) is at column first + 4i + j.
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.equal(row[first + 4 * i + j], i * 3 + j, `row ${r}, w(${i},${j})`);
    }
  });

  test('denseMatrix fills in the kernel values and matVec multiplies by C and Cᵀ', () => {
    const kernel = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const dense = explain.denseMatrix(m, kernel);
    const ref = referenceMatrix({ input: 4, kernel: 3, stride: 1, padding: 0 }, kernel);
    assert.deepEqual(Array.from(dense), Array.from(ref.c));
    const x = Array.from({ length: 16 }, (_, i) => i + 1);
    // y0 = Σ w(i,j)·x(i,j) over the top-left 3×3 window of 1..16.
    const y0 = 1 * 1 + 2 * 2 + 3 * 3 + 4 * 5 + 5 * 6 + 6 * 7 + 7 * 9 + 8 * 10 + 9 * 11;
    assert.equal(explain.matVec(dense, 4, 16, x)[0], y0);
    assert.deepEqual(Array.from(explain.matVec(dense, 4, 16, [1, 0, 0, 0], true)), Array.from(ref.c.subarray(0, 16)));
  });
});

describe('convMatrix matches the definition across the grid', () => {
  test(`symbolic C equals the test's own construction for all ${grid().length} cases`, () => {
    for (const g of grid()) {
      const m = explain.convMatrix(explain.squareSpec(g.input, g.kernel, g.stride, g.padding));
      const out = outSize(g);
      assert.equal(m.rows, out * out, name(g));
      assert.equal(m.cols, g.input * g.input, name(g));
      // Fill the kernel with its own index + 1 so every entry of C tells which weight it is.
      const indices = Array.from({ length: g.kernel * g.kernel }, (_, i) => i + 1);
      const ref = referenceMatrix(g, indices);
      const fromLibrary = Array.from(m.entries, (k) => k + 1);
      assert.deepEqual(fromLibrary, Array.from(ref.c), name(g));
    }
  });
});

describe('C·x = conv2d(x, w) and Cᵀ·y = convTranspose2d(y, w), with C built by the test', () => {
  test('every case of the grid', () => {
    let seed = 1;
    for (const g of grid()) {
      const out = outSize(g);
      const w = randomValues(g.kernel * g.kernel, seed++);
      const x = randomValues(g.input * g.input, seed++);
      const y = randomValues(out * out, seed++);
      const { c, rows, cols } = referenceMatrix(g, w);

      const conv = conv2d(tensor(x, [1, 1, g.input, g.input]), tensor(w, [1, 1, g.kernel, g.kernel]), null, { stride: g.stride, padding: g.padding });
      assert.deepEqual([...conv.shape], [1, 1, out, out], name(g));
      assertClose(conv.data, multiply(c, rows, cols, x, false), { rtol: 1e-5, atol: 1e-5 }, `C·x, ${name(g)}`);

      const outputPadding = g.input - ((out - 1) * g.stride - 2 * g.padding + g.kernel);
      assert.ok(outputPadding >= 0 && outputPadding < g.stride, name(g));
      const back = convTranspose2d(tensor(y, [1, 1, out, out]), tensor(w, [1, 1, g.kernel, g.kernel]), null, {
        stride: g.stride,
        padding: g.padding,
        outputPadding,
      });
      assert.deepEqual([...back.shape], [1, 1, g.input, g.input], name(g));
      assertClose(back.data, multiply(c, rows, cols, y, true), { rtol: 1e-5, atol: 1e-5 }, `Cᵀ·y, ${name(g)}`);
    }
  });
});

describe('explainConvolution', () => {
  test('all checks pass across the grid', () => {
    for (const g of grid()) {
      const result = explain.explainConvolution(explain.squareSpec(g.input, g.kernel, g.stride, g.padding), 3);
      assert.equal(result.checks.length, 3, name(g));
      for (const check of result.checks) {
        assert.ok(check.ok, `${name(g)}: ${check.name} off by ${check.maxAbsDiff} (tolerance ${check.tolerance})`);
        assert.ok(check.maxAbsDiff <= check.tolerance);
      }
      assert.equal(result.ok, true, name(g));
      const out = outSize(g);
      assert.equal(result.matrix.outH, out, name(g));
      assert.equal(result.outputPadding, g.input - ((out - 1) * g.stride - 2 * g.padding + g.kernel), name(g));
      assert.equal(result.kernel.length, g.kernel * g.kernel);
    }
  });

  test('the seed case reports the kernel it used, and the seed makes it reproducible', () => {
    const a = explain.explainConvolution(explain.squareSpec(4, 3), 5);
    const b = explain.explainConvolution(explain.squareSpec(4, 3), 5);
    const c = explain.explainConvolution(explain.squareSpec(4, 3), 6);
    assert.deepEqual(a.kernel, b.kernel);
    assert.notDeepEqual(a.kernel, c.kernel);
    assert.equal(a.outputPadding, 0);
    assert.deepEqual(a.checks.map((k) => k.ok), [true, true, true]);
  });

  test('the JSON form carries C and Cᵀ as transposes of each other', () => {
    const json = explain.explanationJson(explain.explainConvolution(explain.squareSpec(5, 3, 2, 1))) as {
      C: { rows: number; cols: number; entries: string[][] };
      CT: { rows: number; cols: number; entries: string[][] };
      output: { height: number; width: number };
      ok: boolean;
    };
    assert.deepEqual(json.output, { height: 3, width: 3 });
    assert.equal(json.C.rows, 9);
    assert.equal(json.C.cols, 25);
    assert.equal(json.CT.rows, 25);
    assert.equal(json.CT.cols, 9);
    for (let r = 0; r < 9; r++) for (let c = 0; c < 25; c++) assert.equal(json.CT.entries[c]![r], json.C.entries[r]![c]);
    // Output (0, 0) with padding 1 sees input (0, 0) through w(1, 1).
    assert.equal(json.C.entries[0]![0], 'w(1,1)');
    assert.equal(json.ok, true);
  });

  test('a kernel larger than the padded input throws a RangeError naming conv2d', () => {
    assert.throws(() => explain.explainConvolution(explain.squareSpec(2, 3)), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /conv2d/);
      assert.match(error.message, /larger than the padded input 2×2/);
      return true;
    });
    assert.throws(() => explain.convMatrix(explain.squareSpec(3, 6, 1, 1)), { name: 'RangeError', message: /conv2d.*padded input 5×5/ });
    // Exactly the padded size is fine: one output.
    assert.equal(explain.convMatrix(explain.squareSpec(3, 5, 1, 1)).rows, 1);
  });

  test('stride 0 and negative padding are rejected by the same validation as conv2d', () => {
    assert.throws(() => explain.explainConvolution(explain.squareSpec(4, 3, 0)), { name: 'RangeError', message: /conv2d.*stride/ });
    assert.throws(() => explain.explainConvolution(explain.squareSpec(4, 3, 1, -1)), { name: 'RangeError', message: /conv2d.*padding/ });
  });
});
