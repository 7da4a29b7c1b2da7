/**
 * BatchNorm kernel times on the DCGAN's activation shapes (batch 64): statistics, apply with a
 * LeakyReLU, and the backward through both; per backend and thread count, the median of a few
 * calls on data that was just written. Prints one JSON object.
 *   node --import tsx bench/batchnorm.ts [--backends native] [--threads 1,2] [--repeats 15]
 */
import { availableBackends, setBackend, setThreads } from '../src/index.js';
import { medianMs, parseFlags } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const backends = (flags['backends'] ?? availableBackends().filter((b) => b !== 'js').join(',')).split(',');
const threadCounts = (flags['threads'] ?? '1,2').split(',').map(Number);
const repeats = Number(flags['repeats'] ?? 15);
const batch = 64;
// [channels, positions]: G's 64×32×32 and the 128×16×16, 256×8×8, 512×4×4 layers of both networks.
const shapes: Array<[number, number]> = [[64, 1024], [128, 256], [256, 64], [512, 16]];

const results: object[] = [];
for (const name of backends) {
  const backend = setBackend(name);
  for (const [c, hw] of shapes) {
    const length = batch * c * hw;
    const x = backend.allocator.alloc(length);
    for (let i = 0; i < length; i++) x[i] = (Math.imul(i, 0x9e3779b1) >>> 0) / 2 ** 32 * 4 - 1;
    const y = backend.allocator.alloc(length);
    const dy = backend.allocator.alloc(length);
    dy.set(x);
    const dx = backend.allocator.alloc(length);
    const mean = new Float32Array(c), variance = new Float32Array(c), invStd = new Float32Array(c).fill(1);
    const gamma = new Float32Array(c).fill(1), beta = new Float32Array(c), dgamma = new Float32Array(c), dbeta = new Float32Array(c);
    for (const threads of threadCounts) {
      setThreads(threads);
      const time = (fn: () => void): number => medianMs(fn, repeats);
      const statsMs = time(() => backend.batchNormStats(x, batch, c, hw, mean, variance));
      const applyMs = time(() => backend.batchNormApply(x, batch, c, hw, mean, invStd, gamma, beta, y, 0.2));
      const backwardMs = time(() => backend.batchNormBackward(x, dy, batch, c, hw, mean, invStd, gamma, true, dx, dgamma, dbeta, { slope: 0.2, beta }));
      const mb = (length * 4) / 1e6;
      results.push({
        backend: name, threads, shape: [batch, c, hw], megabytes: Math.round(mb * 10) / 10,
        statsMs: round(statsMs), applyMs: round(applyMs), backwardMs: round(backwardMs),
        statsReadGBps: round(mb / statsMs),
      });
    }
  }
}
console.log(JSON.stringify({ bench: 'batchnorm', batch, repeats, results }, null, 1));

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
