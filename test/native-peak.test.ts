/**
 * The FMA-peak probe of the native addon (native/src/peak.c): the ISA it picks at run time is
 * the widest /proc/cpuinfo lists, 128-bit FMA is there where the CPU has FMA, the rates are positive and finite, an ISA the CPU lacks gives
 * null, bad arguments are range errors.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { availableBackends, setBackend, type NativeBackend } from '../src/index.js';

describe('native FMA-peak probe', { skip: availableBackends().includes('native') ? false : 'the native backend is not available here' }, () => {
  it('runs the widest ISA the CPU has, on one thread and on two at once', () => {
    const backend = setBackend('native') as NativeBackend;
    const one = backend.fmaPeak({ threads: 1, seconds: 0.02, trials: 1 });
    const two = backend.fmaPeak({ threads: 2, seconds: 0.02, trials: 1 });
    for (const peak of [one, two]) {
      assert.ok(peak !== null);
      assert.ok(Number.isFinite(peak.gflops) && peak.gflops > 0, `gflops ${peak.gflops}`);
      assert.ok(Number.isFinite(peak.wallGflops) && peak.wallGflops > 0, `wallGflops ${peak.wallGflops}`);
    }
    if (process.arch === 'x64' && existsSync('/proc/cpuinfo')) {
      const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? []);
      const fma = flags.has('fma');
      const widest = flags.has('avx512f') ? 'avx512' : flags.has('avx2') && fma ? 'avx2' : fma ? 'fma128' : 'sse';
      assert.equal(one!.isa, widest);
      assert.equal(backend.fmaPeak({ threads: 1, seconds: 0.01, trials: 1, isa: 'sse' })?.isa, 'sse');
      // FMA on 128-bit vectors (the wasm backend's ceiling) exactly where the CPU has FMA.
      assert.equal(backend.fmaPeak({ threads: 1, seconds: 0.01, trials: 1, isa: 'fma128' })?.isa, fma ? 'fma128' : undefined);
    }
  });

  it('an ISA this CPU lacks gives null; bad arguments are range errors', () => {
    const backend = setBackend('native') as NativeBackend;
    assert.equal(backend.fmaPeak({ threads: 1, seconds: 0.01, trials: 1, isa: 'no-such-isa' }), null);
    assert.throws(() => backend.fmaPeak({ threads: 0 }), RangeError);
    assert.throws(() => backend.fmaPeak({ seconds: 0 }), RangeError);
    assert.throws(() => backend.fmaPeak({ trials: 0 }), RangeError);
  });
});
