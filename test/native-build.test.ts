/**
 * The install-time build of the native addon never fails `npm install`: without the library,
 * or when the compiler fails, it exits 0 with one line saying why and what to install, and
 * records the reason for the backend's error message. Run on copies in a temporary folder so
 * the real build is untouched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A package folder with the build script and the addon's sources, as npm unpacks it. */
function packageCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dcgan-native-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(root, 'scripts', 'build-native.mjs'), join(dir, 'scripts', 'build-native.mjs'));
  mkdirSync(join(dir, 'native'));
  copyFileSync(join(root, 'native', 'binding.gyp'), join(dir, 'native', 'binding.gyp'));
  cpSync(join(root, 'native', 'src'), join(dir, 'native', 'src'), { recursive: true });
  return dir;
}

function build(dir: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(dir, 'scripts', 'build-native.mjs')], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const status = (dir: string): { built: boolean; reason: string; how: string } =>
  JSON.parse(readFileSync(join(dir, 'native', 'build', 'status.json'), 'utf8')) as { built: boolean; reason: string; how: string };

describe('building the native addon at install', () => {
  test('without the library: exit 0, one line with the reason and the command, the reason recorded', () => {
    const dir = packageCopy();
    const run = build(dir, { DCGAN_OPENBLAS_LIB: '/nonexistent/libopenblas.so.0' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n').length, 1);
    assert.match(run.stdout, /native backend not built — DCGAN_OPENBLAS_LIB=\/nonexistent\/libopenblas\.so\.0 does not exist\. The WebAssembly backend will be used; for the faster one, install OpenBLAS \(Debian\/Ubuntu: apt-get install libopenblas-dev libopenblas0-openmp\)/);
    assert.equal(status(dir).built, false);
    assert.equal(existsSync(join(dir, 'native', 'build', 'Release', 'dcgan_native.node')), false);
  });

  test('when the compiler fails: exit 0, "node-gyp failed" with the error, no addon left behind', { skip: existsSync(join(root, 'native', 'build', 'Release', 'dcgan_native.node')) ? false : 'no working native toolchain here' }, () => {
    const dir = packageCopy();
    writeFileSync(join(dir, 'native', 'src', 'optim.c'), 'this is not C;\n');
    const run = build(dir, {});
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /native backend not built — node-gyp failed/);
    assert.equal(status(dir).built, false);
    assert.match(status(dir).reason, /node-gyp failed/);
    assert.equal(existsSync(join(dir, 'native', 'build', 'Release', 'dcgan_native.node')), false);
  });

  const hasDnnl = existsSync('/usr/include/oneapi/dnnl/dnnl.h') || existsSync('/usr/include/dnnl.h');
  test('a oneDNN the addon cannot be built with: built without it, and the line says so', { skip: existsSync(join(root, 'native', 'build', 'Release', 'dcgan_native.node')) && hasDnnl ? false : 'no native toolchain or no oneDNN here' }, () => {
    const dir = packageCopy();
    const source = join(dir, 'native', 'src', 'direct_conv.c');
    writeFileSync(source, `#ifdef DCGAN_DNNL\n#error a oneDNN that does not compile\n#endif\n${readFileSync(source, 'utf8')}`);
    const run = build(dir, {});
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 1);
    assert.match(run.stdout, /native backend built \(.*oneDNN found but the build with it failed, built without it/);
    assert.equal(status(dir).built, true);
    const addonPath = join(dir, 'native', 'build', 'Release', 'dcgan_native.node');
    assert.equal(existsSync(addonPath), true);
    // That addon has no oneDNN, but still our Winograd (layout 4): a kernel-4 stride-2 convolution
    // of 2 images 3 × 8 × 8 into 5 channels, against the sum written out in JavaScript.
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      const [n, c, h, w, k, oh, ow] = [2, 3, 8, 8, 5, 4, 4];
      const x = Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i * 0.7));
      const wt = Float32Array.from({ length: k * c * 16 }, (_, i) => Math.cos(i * 0.3));
      const run = (layout) => {
        const out = new Float32Array(n * k * oh * ow);
        return [addon.directConv(0, x, wt, out, k, n, c, h, w, 4, 4, 2, 2, 1, 1, oh, ow, layout), out];
      };
      const [blocked] = run(0);
      const [winograd, out] = run(4);
      let worst = 0;
      for (let i = 0; i < n; i++) for (let o = 0; o < k; o++) for (let y = 0; y < oh; y++) for (let z = 0; z < ow; z++) {
        let sum = 0;
        for (let ch = 0; ch < c; ch++) for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) {
          const yy = 2 * y + a - 1, xx = 2 * z + b - 1;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) sum += wt[((o * c + ch) * 4 + a) * 4 + b] * x[((i * c + ch) * h + yy) * w + xx];
        }
        worst = Math.max(worst, Math.abs(sum - out[((i * k + o) * oh + y) * ow + z]));
      }
      console.log(JSON.stringify({ oneDNN: addon.info().directConv ?? null, blocked, winograd, worst }));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout) as { oneDNN: string | null; blocked: boolean; winograd: boolean; worst: number };
    assert.deepEqual({ oneDNN: result.oneDNN, blocked: result.blocked, winograd: result.winograd }, { oneDNN: null, blocked: false, winograd: true });
    assert.ok(result.worst < 1e-5, `Winograd without oneDNN: largest error ${result.worst}`);
  });

  test('DCGAN_NATIVE=0 skips the build and leaves an earlier one alone', () => {
    const dir = packageCopy();
    const run = build(dir, { DCGAN_NATIVE: '0' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /skipped \(DCGAN_NATIVE=0\)/);
    assert.equal(existsSync(join(dir, 'native', 'build')), false);
  });
});
