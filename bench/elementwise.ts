/**
 * Elementwise kernel throughput: tanh and sigmoid (forward and backward) on 4M floats
 * uniform in [-5, 5], per backend and thread count; the median of a few calls. Prints one JSON object.
 *   node --import tsx bench/elementwise.ts [--backends native] [--threads 1,2] [--n 4194304] [--repeats 15]
 */
import { availableBackends, setBackend, setThreads } from '../src/index.js';
import type { UnaryOp } from '../src/kernels/backend.js';
import { medianMs, parseFlags } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const backends = (flags['backends'] ?? availableBackends().filter((b) => b !== 'js').join(',')).split(',');
const threadCounts = (flags['threads'] ?? '1,2').split(',').map(Number);
const n = Number(flags['n'] ?? 4 * 2 ** 20);
const repeats = Number(flags['repeats'] ?? 15);
const ops: UnaryOp[] = ['tanh', 'sigmoid'];

const results: object[] = [];
for (const name of backends) {
  const backend = setBackend(name);
  const x = backend.allocator.alloc(n);
  for (let i = 0; i < n; i++) x[i] = (Math.imul(i, 0x9e3779b1) >>> 0) / 2 ** 32 * 10 - 5; // a fixed scatter over [-5, 5]
  const y = backend.allocator.alloc(n);
  const dy = backend.allocator.alloc(n).fill(0.5);
  const dx = backend.allocator.alloc(n);
  for (const threads of threadCounts) {
    setThreads(threads);
    for (const op of ops) {
      const time = (fn: () => void): number => +medianMs(fn, repeats).toFixed(3);
      const forwardMs = time(() => backend.unary(op, x, y, 0));
      const backwardMs = time(() => backend.unaryBackward(op, x, y, dy, dx, 0));
      results.push({ backend: name, threads, op, n, forwardMs, backwardMs, forwardGelemPerSec: +(n / forwardMs / 1e6).toFixed(2) });
    }
  }
  for (const t of [x, y, dy, dx]) backend.allocator.free(t);
}
console.log(JSON.stringify({ benchmark: 'elementwise', results }));
