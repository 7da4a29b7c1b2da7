/**
 * Signals during oneDNN's kernels. oneDNN 2.6's JIT GEMM keeps data below the stack pointer,
 * beyond the red zone a signal handler's frame skips, so a signal handled on that thread's stack
 * overwrote it and glibc aborted later ("corrupted size vs. prev_size" in free()): `node --cpu-prof`
 * (V8's profiler signals the main thread every interval) crashed a training step at 32 × 32 × 1,
 * and Ctrl-C, a terminal resize or a child's exit could do the same. The addon now takes no
 * asynchronous signal while oneDNN runs (native/src/signals.c).
 *
 * The child process below runs oneDNN's sgemm (a thin product, as G's projection) and Winograd's
 * products under V8's profiler sampling every 50 µs, and checks every result.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const root = fileURLToPath(new URL('..', import.meta.url));
const addonPath = join(root, 'native', 'build', 'Release', 'dcgan_native.node');

function addonHasOneDnn(): boolean {
  if (!existsSync(addonPath)) return false;
  const child = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(addonPath)}).info().directConv ?? '')`], { encoding: 'utf8' });
  return child.status === 0 && child.stdout.trim() !== '';
}

describe('native backend under signals', () => {
  test('oneDNN sgemm and Winograd products under a 50 µs sampling profiler: no crash, every result right', { skip: addonHasOneDnn() ? false : 'no native addon with oneDNN here' }, () => {
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      addon.setThreads(2);
      // C = A·B with A [64 × 100], B [100 × 4096] (a thin product: oneDNN's sgemm), against a sum in JavaScript.
      const [m, n, k] = [64, 4096, 100];
      const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
      const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
      const expected = new Float32Array(m * n);
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) { const v = a[i * k + p]; for (let j = 0; j < n; j++) expected[i * n + j] += v * b[p * n + j]; }
      // Winograd (layout 4) of 16 images 32 × 8 × 8 into 64 channels: its products are oneDNN's sgemm too.
      const [N, C, H, K] = [16, 32, 8, 64];
      const x = Float32Array.from({ length: N * C * H * H }, (_, i) => Math.sin(i * 0.7));
      const w = Float32Array.from({ length: K * C * 16 }, (_, i) => Math.cos(i * 0.3) * 0.1);
      const first = new Float32Array(N * K * (H / 2) * (H / 2));
      if (!addon.directConv(0, x, w, first, K, N, C, H, H, 4, 4, 2, 2, 1, 1, H / 2, H / 2, 4)) throw new Error('winograd declined');
      let worst = 0, runs = 0;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const c = new Float32Array(m * n);
        addon.gemm(0, 0, m, n, k, 1, 0, 1, a, 0, b, 0, c, 0);
        for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i] - expected[i]));
        const out = new Float32Array(first.length);
        addon.directConv(0, x, w, out, K, N, C, H, H, 4, 4, 2, 2, 1, 1, H / 2, H / 2, 4);
        for (let i = 0; i < out.length; i++) if (out[i] !== first[i]) throw new Error('winograd changed its result at ' + i);
        runs++;
      }
      console.log(JSON.stringify({ worst, runs }));`;
    const dir = mkdtempSync(join(tmpdir(), 'dcgan-cpu-prof-'));
    try {
      const child = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, '-e', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(child.signal, null, `the child was killed by ${child.signal}: ${child.stderr}`);
      assert.equal(child.status, 0, child.stderr);
      const result = JSON.parse(child.stdout) as { worst: number; runs: number };
      assert.ok(result.runs > 10, `${result.runs} rounds`);
      assert.ok(result.worst < 1e-3, `sgemm's largest error ${result.worst}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
