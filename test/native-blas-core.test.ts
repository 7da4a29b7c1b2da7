/**
 * Which OpenBLAS kernel family the native backend asks for (src/kernels/native/addon.ts): its
 * Zen kernels on AMD Zen 4 and earlier, OpenBLAS's own choice on Intel and on AMD Zen 5 and later
 * (full-width AVX-512), and always the user's OPENBLAS_CORETYPE when one is set.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { blasCoreTypeFor } from '../src/kernels/native/addon.js';
import { availableBackends } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const cpuinfo = (vendor: string, family: number, flags: string): string =>
  `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: 2\nmodel name\t: CPU\nflags\t\t: ${flags}\n\nprocessor\t: 1\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\n`;

describe('the OpenBLAS kernel family for a CPU', () => {
  it('asks for the Zen kernels on AMD up to Zen 4 and leaves Zen 5, Intel and unknown CPUs to OpenBLAS', () => {
    assert.equal(blasCoreTypeFor(cpuinfo('AuthenticAMD', 23, 'fma avx2')), 'Zen'); // Zen 2
    assert.equal(blasCoreTypeFor(cpuinfo('AuthenticAMD', 25, 'fma avx2 avx512f avx512_bf16')), 'Zen'); // Zen 4
    assert.equal(blasCoreTypeFor(cpuinfo('AuthenticAMD', 26, 'fma avx2 avx512f avx512_bf16')), undefined); // Zen 5
    assert.equal(blasCoreTypeFor(cpuinfo('GenuineIntel', 6, 'fma avx2 avx512f')), undefined);
    assert.equal(blasCoreTypeFor('vendor_id\t: AuthenticAMD\n'), undefined); // no family line: no guess
    assert.equal(blasCoreTypeFor(''), undefined);
  });
});

/** The kernel family OpenBLAS reports in a fresh process (it reads OPENBLAS_CORETYPE once, at load). */
function loadedBlasCore(env: NodeJS.ProcessEnv): string {
  const script = "import('./src/index.js').then((m) => console.log(m.setBackend('native').library.blasCore))";
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

describe('the kernel family the native backend loads', { skip: availableBackends().includes('native') ? false : 'the native backend is not available here' }, () => {
  it("keeps the user's OPENBLAS_CORETYPE", () => {
    assert.equal(loadedBlasCore({ ...process.env, OPENBLAS_CORETYPE: 'Haswell' }), 'Haswell');
  });

  it('follows the rule on this CPU', { skip: existsSync('/proc/cpuinfo') ? false : 'no /proc/cpuinfo' }, () => {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    const wanted = blasCoreTypeFor(readFileSync('/proc/cpuinfo', 'utf8'));
    const core = loadedBlasCore(env);
    if (wanted !== undefined) assert.equal(core, wanted);
    else assert.notEqual(core, 'Zen', 'the Zen kernels were asked for where the rule leaves the choice to OpenBLAS');
  });
});
