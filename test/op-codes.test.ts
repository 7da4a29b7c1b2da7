import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderOpCodeFiles } from '../scripts/gen-op-codes.js';
import { BINARY_CODES, SCALAR_CODES, UNARY_CODES, UNARY_OPS } from '../src/kernels/op-codes.js';

test('the compiled kernels hold the op codes of src/kernels/op-codes.ts (run `npm run gen:op-codes` when this fails)', () => {
  for (const [path, expected] of Object.entries(renderOpCodeFiles())) {
    assert.equal(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'), expected, `${path} is out of date`);
  }
});

test('op codes are the table positions, so every backend numbers them alike', () => {
  assert.deepEqual(UNARY_OPS.map((op) => UNARY_CODES[op]), UNARY_OPS.map((_, i) => i));
  assert.equal(BINARY_CODES.div, 3);
  assert.equal(SCALAR_CODES.pow, undefined, 'pow has no compiled kernel');
  const header = readFileSync(new URL('../native/src/op_codes.h', import.meta.url), 'utf8');
  assert.match(header, /U_LEAKY_RELU = 1\b/);
});
