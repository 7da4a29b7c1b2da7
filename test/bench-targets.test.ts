/**
 * bench/targets.ts on committed `npm run bench` reports: issue 14's targets read off a native run
 * (the Intel Xeon, all met) and a wasm run (the Zen 5, the step at 64×64×3 and the GEMM missed),
 * a report without the peer (nothing to compare: not measured), and the row for BENCHMARKS.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkTargets, describeTargets, targetsTableRow, type BenchReport } from '../bench/targets.js';

const report = (name: string): BenchReport => JSON.parse(readFileSync(new URL(`../bench/results/${name}`, import.meta.url), 'utf8')) as BenchReport;
const intelNative = report('2026-12-02-bench-intel-s23-native.json');
const zen5Wasm = report('2026-12-02-bench-zen5-s22-wasm-2.json');

describe('issue 14’s targets from a bench report', () => {
  it('a native run: the worst of the two sizes against each limit, all met on the Intel Xeon', () => {
    const checks = checkTargets(intelNative);
    assert.deepEqual(checks.map((c) => c.backend), ['native', 'native', 'native', 'native', 'native']);
    const paired = intelNative.dcgan!.map((row) => row.headline['native']!.pairedStepRatio['2t']!);
    assert.equal(checks[0]!.measured, Math.max(...paired));
    assert.ok(checks.every((c) => c.met === true), describeTargets(checks));
    // The peak RSS target is ours over PyTorch's at 64×64×3 on 2 threads.
    const big = intelNative.dcgan!.find((row) => row.config === '64x64x3 batch 64')!;
    const rss = (side: string): number => big.summary[side]!.perThreads.find((t) => t.threads === 2)!.peakRssMiB;
    assert.equal(checks[3]!.measured, +(rss('native') / rss('pytorch')).toFixed(2));
  });

  it('a wasm run: the Zen 5’s 1.48 at 64×64×3 and its 38.0 GFLOP/s a thread are missed', () => {
    const checks = checkTargets(zen5Wasm);
    assert.deepEqual(checks.map((c) => [c.backend, c.met]), [['wasm', false], ['wasm', false], ['wasm', false], ['wasm', false]]);
    assert.equal(checks[0]!.measured, 1.48);
    assert.equal(checks[2]!.measured, 38);
    assert.match(describeTargets(checks), /0 of 4 met/);
    assert.match(describeTargets(checks), /wasm step, paired at 2 threads .*: 1\.48 \(target ≤ 1\.3\) MISSED/);
  });

  it('without the peer the ratios are not measured, and say so', () => {
    const alone = structuredClone(intelNative);
    for (const row of alone.dcgan!) {
      delete row.summary['pytorch'];
      row.headline['native'] = { stepRatioBestOverBest: null, pairedStepRatio: { '1t': null, '2t': null }, pairedInferenceRatio: { '1t': null, '2t': null } };
    }
    const checks = checkTargets(alone);
    assert.deepEqual(checks.map((c) => c.met), [null, null, null, null, true]);
    assert.match(describeTargets(checks), /1 of 5 met/);
  });

  it('the row for the table by CPU kind: the CPU and its numbers, a dash where a backend was not benched', () => {
    const row = targetsTableRow(intelNative);
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    assert.equal(cells.length, 7);
    assert.match(cells[0]!, /family 6, model 167, AVX-512/);
    assert.equal(cells[1], '0.44 / 0.40');
    assert.match(cells[3]!, /^\d+ \/ \d+ MiB$/);
    assert.equal(cells[5], '— / —');
    const wasmRow = targetsTableRow(zen5Wasm).split('|').slice(1, -1).map((c) => c.trim());
    assert.equal(wasmRow[5], '1.48 / 1.19');
    assert.equal(wasmRow[6], '38.0–45.4, 1.68–1.96');
  });
});
