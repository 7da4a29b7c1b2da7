/** The fuzz harness catches what it promises to: crashes, hangs, allocation, bad messages, wrong results; runs are reproducible. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fuzzParser } from './harness.js';

class ParseError extends Error {}
const seeds = [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])];
const base = { name: 'selftest', seeds, allowedErrors: [ParseError], iterations: 40 };
// These cases count exactly: a longer fuzz run (DCGAN_FUZZ_ITERATIONS, DCGAN_FUZZ_SEED) must not change them.
const saved = { iterations: process.env['DCGAN_FUZZ_ITERATIONS'], seed: process.env['DCGAN_FUZZ_SEED'] };
delete process.env['DCGAN_FUZZ_ITERATIONS'];
delete process.env['DCGAN_FUZZ_SEED'];
after(() => {
  if (saved.iterations !== undefined) process.env['DCGAN_FUZZ_ITERATIONS'] = saved.iterations;
  if (saved.seed !== undefined) process.env['DCGAN_FUZZ_SEED'] = saved.seed;
});

describe('fuzz harness', () => {
  it('counts parsed and rejected cases and is reproducible for a seed', () => {
    const parse = (b: Uint8Array): number => {
      if (b.length !== 12) throw new ParseError(`length ${b.length}`);
      return b.length;
    };
    const a = fuzzParser({ ...base, parse });
    const b = fuzzParser({ ...base, parse });
    assert.equal(a.cases, 40);
    assert.equal(a.parsed + a.rejected, 40);
    assert.ok(a.parsed >= 1 && a.rejected >= 1, a.line);
    assert.deepEqual([a.parsed, a.rejected], [b.parsed, b.rejected]);
    assert.deepEqual(a.failures, []);
    assert.match(a.line, /^fuzz selftest: 40 cases \(seed 1, [\d.]+ s\): \d+ parsed, \d+ rejected \(ParseError \d+\), 0 failures/);
  });

  it('reports crashes, bad messages and wrong results', () => {
    const crash = fuzzParser({ ...base, iterations: 3, parse: () => { throw new TypeError('boom'); } });
    assert.equal(crash.failures.length, 3);
    assert.equal(crash.failures[0]!.kind, 'crash');
    const multiline = fuzzParser({ ...base, iterations: 2, parse: () => { throw new ParseError('two\nlines'); } });
    assert.equal(multiline.failures[0]!.kind, 'bad-message');
    const wrong = fuzzParser({ ...base, iterations: 2, parse: () => 1, check: () => assert.fail('wrong') });
    assert.equal(wrong.failures[0]!.kind, 'wrong-result');
  });

  it('cuts off an endless loop at the time box', () => {
    const started = performance.now();
    const hang = fuzzParser({ ...base, iterations: 1, timeBoxMs: 200, parse: () => { for (;;); } });
    assert.equal(hang.failures[0]!.kind, 'hang');
    assert.ok(performance.now() - started < 5000);
  });

  it('flags a case that allocates beyond the bound', () => {
    const kept: Uint8Array[] = [];
    const alloc = fuzzParser({ ...base, iterations: 1, maxHeapGrowthBytes: 8 << 20, parse: () => kept.push(new Uint8Array(32 << 20).fill(1)) });
    assert.equal(alloc.failures[0]!.kind, 'allocation');
    kept.length = 0;
  });
});
