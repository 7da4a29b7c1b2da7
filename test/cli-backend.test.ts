/**
 * Which backend the CLI runs, and that it says so once: native where its addon was built
 * (npm install with OpenBLAS present), otherwise wasm with one note on how to get native.
 * DCGAN_NATIVE=0 runs as a machine without the addon would. And what `dcgan bench` says of memory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { STEADY_WARMUP } from '../src/bench/training-step.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const addonBuilt = process.env.DCGAN_NATIVE !== '0' && existsSync(fileURLToPath(new URL('../native/build/Release/dcgan_native.node', import.meta.url)));

function bench(env: Record<string, string>, ...extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['bin/dcgan.js', 'bench', '--image-size', '16', '--channels', '1', '--batch', '2', '--steps', '1', '--threads', '1', ...extra], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const notes = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('note:'));

describe('backend choice in the CLI', () => {
  test('without the native addon: wasm runs, and one note says why native is not used and how to get it', () => {
    const run = bench({ DCGAN_NATIVE: '0' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /backend wasm: WebAssembly SIMD/);
    assert.deepEqual(notes(run.stderr), ['note: the faster native backend is not available: the native backend is turned off (DCGAN_NATIVE=0)']);
  });

  test('dcgan train --json puts the engine and the hint into its start event, not on stderr', () => {
    const result = spawnSync(process.execPath, ['bin/dcgan.js', 'train', '--image-size', '16', '--channels', '1', '--ngf', '4', '--ndf', '4', '--batch-size', '4', '--steps', '1', '--sample-every', '0', '--threads', '1', '--out', join(tmpdir(), `dcgan-engine-${process.pid}`), '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, DCGAN_NATIVE: '0' },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    const start = JSON.parse(result.stdout.split('\n')[0]!) as { event: string; engine: { backend: string; hint: string | null } };
    assert.equal(start.event, 'start');
    assert.equal(start.engine.backend, 'wasm');
    assert.match(start.engine.hint ?? '', /native backend is not available/);
  });

  test('a backend asked for by name runs without a note', () => {
    const run = bench({}, '--backend', 'wasm');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /backend wasm/);
    assert.deepEqual(notes(run.stderr), []);
  });

  test('asking for native where it cannot start is a one-line usage error', () => {
    const run = bench({ DCGAN_NATIVE: '0' }, '--backend', 'native');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /the 'native' backend is not available here: the native backend is turned off/);
    assert.ok(!/^\s{4}at /m.test(run.stderr), run.stderr);
  });

  test('with the addon built: native (OpenBLAS) is the default, with no note', { skip: addonBuilt ? false : 'the native addon is not built here (no OpenBLAS at install)' }, () => {
    const run = bench({});
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /backend native: OpenBLAS [\d.]+ \(\w+ kernels/);
    assert.deepEqual(notes(run.stderr), []);
  });
});

describe('dcgan bench', () => {
  test('dcgan bench --json says where the memory goes: the tensors alive at most in each part of the step', () => {
    const run = bench({}, '--backend', 'wasm', '--json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { peakTensorMiB: number; peakTensorMiBByPhase: Record<string, number> };
    const parts = result.peakTensorMiBByPhase;
    assert.deepEqual(Object.keys(parts), ['dReal', 'generate', 'dFake', 'dUpdate', 'gPass', 'gUpdate']);
    for (const [part, mib] of Object.entries(parts)) assert.ok(mib > 0 && mib <= result.peakTensorMiB, `${part}: ${mib} of ${result.peakTensorMiB} MiB`);
    // D's pass on the fakes holds G's activations (kept for G's backward) on top of D's own: more than D's pass on the reals.
    assert.ok(parts['dFake']! > parts['dReal']!, JSON.stringify(parts));
    assert.equal(Math.max(...Object.values(parts)), result.peakTensorMiB);
  });

  test('dcgan bench warms up by the bench rule before it times, and --warmup-seconds 0 gives the minimum', () => {
    const steady = JSON.parse(bench({}, '--backend', 'wasm', '--json').stdout) as { warmupSteps: number };
    // Steps of a 16 × 16 batch of 2 take milliseconds: 8 s of them is more than the cap.
    assert.equal(steady.warmupSteps, STEADY_WARMUP.maxWarmup);
    const minimum = JSON.parse(bench({}, '--backend', 'wasm', '--json', '--warmup-seconds', '0').stdout) as { warmupSteps: number };
    assert.equal(minimum.warmupSteps, 2);
  });
});
