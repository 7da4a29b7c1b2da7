/**
 * The bench's warm-up rule (src/bench/training-step.ts, warmupDone), and that the step benchmark
 * follows it: at least the minimum, then more until the seconds have passed, never past the cap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchmarkTrainingStep, warmupDone } from '../src/bench/training-step.js';
import { setBackend } from '../src/index.js';

describe('bench warm-up rule', () => {
  const rule = { min: 2, seconds: 8, max: 25 };
  it('runs at least the minimum, however long the steps take', () => {
    assert.equal(warmupDone(0, 60_000, rule), false);
    assert.equal(warmupDone(1, 60_000, rule), false);
    assert.equal(warmupDone(2, 60_000, rule), true);
  });
  it('then warms up until the seconds have passed or the cap is reached', () => {
    assert.equal(warmupDone(2, 7_999, rule), false);
    assert.equal(warmupDone(10, 8_000, rule), true);
    assert.equal(warmupDone(24, 100, rule), false);
    assert.equal(warmupDone(25, 100, rule), true);
  });
  it('with no seconds, stops at the minimum (the earlier protocol)', () => {
    assert.equal(warmupDone(2, 0, { min: 2, seconds: 0, max: 25 }), true);
  });
  it('is what benchmarkTrainingStep runs', () => {
    setBackend('js');
    const tiny = { imageSize: 16, channels: 1 as const, batch: 2, nz: 8, ngf: 4, ndf: 4, steps: 1 };
    assert.equal(benchmarkTrainingStep({ ...tiny, warmup: 1 }).warmupSteps, 1);
    // A whole minute asked for: the cap ends it.
    assert.equal(benchmarkTrainingStep({ ...tiny, warmup: 1, warmupSeconds: 60, maxWarmup: 3 }).warmupSteps, 3);
  });
});
