/**
 * The wasm backend's host layer in Node: a backend that starts with one thread, the async
 * start (`setBackendAsync`, `initWasm`) that browsers need, and Node < 20.16 (no
 * process.getBuiltinModule), where the start must be asynchronous too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createJsBackend, getThreads, initWasm, setBackend, setBackendAsync, setThreads, type GemmParams } from '../src/kernels/index.js';
import { createWasmBackend } from '../src/kernels/wasm/index.js';
import { platform } from '../src/kernels/wasm/platform.js';

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed * 12.9898 + i * 78.233);
  return out;
}

describe('the wasm backend host layer in Node', () => {
  it('detects Node and its cores', () => {
    const host = platform();
    assert.ok(host !== null);
    assert.equal(host.kind, 'node');
    assert.equal(host.threadLimit, null);
    assert.ok(host.defaultThreads() >= 1);
  });

  it('a backend started with 1 thread has its GEMM scratch (equal to js)', () => {
    const wasm = createWasmBackend(1);
    const js = createJsBackend();
    assert.equal(wasm.threads, 1);
    const p: GemmParams = { transA: false, transB: false, m: 256, n: 1024, k: 32, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
    const a = values(p.m * p.k, 1);
    const b = values(p.k * p.n, 2);
    const expected = new Float32Array(p.m * p.n);
    js.gemm(p, a, b, expected);
    const c = wasm.allocator.alloc(p.m * p.n);
    wasm.gemm(p, a, b, c);
    let worst = 0;
    for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i]! - expected[i]!));
    assert.ok(worst <= 1e-4, `max difference ${worst}`);
  });

  it('setBackendAsync and initWasm also work in Node, and resolve with the threads running', async () => {
    const kernels = await initWasm();
    assert.equal(await initWasm(), kernels, 'later calls return the first result');
    setThreads(2);
    const backend = await setBackendAsync('wasm');
    assert.equal(backend.name, 'wasm');
    assert.equal(getThreads(), 2);
    setBackend('js');
    assert.equal((await setBackendAsync()).name, 'wasm', 'without a name: the fastest that starts');
  });

  it('without process.getBuiltinModule (Node < 20.16): setBackend explains, setBackendAsync starts it', () => {
    const core = new URL('../src/core.ts', import.meta.url).href;
    const script = `
      delete process.getBuiltinModule;
      const d = await import(${JSON.stringify(core)});
      let sync = 'started';
      try { d.setBackend('wasm'); } catch (e) { sync = e.message; }
      const fallback = d.getBackendName();
      d.setThreads(2);
      const b = await d.setBackendAsync('wasm');
      const x = d.tensor([1, 2, 3, 4], [2, 2]);
      console.log(JSON.stringify({ sync, fallback, name: b.name, threads: d.getThreads(), product: d.matmul(x, x).toArray() }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { sync: string; fallback: string; name: string; threads: number; product: number[] };
    assert.match(result.sync, /await initWasm\(\)/);
    assert.equal(result.fallback, 'js');
    assert.equal(result.name, 'wasm');
    assert.equal(result.threads, 2);
    assert.deepEqual(result.product, [7, 10, 15, 22]);
  });
});
