/**
 * GEMM throughput on the shapes DCGAN's convolutions lower to (64×64×3, batch 64, ngf = ndf = 64),
 * and on one large square product (the ceiling), for each fast backend and thread count. Prints one JSON object.
 *   node --import tsx bench/gemm.ts [--threads 1,2] [--repeats 5] [--rounds 3]
 * Each shape is timed in --rounds rounds, every thread count once per round (median of --repeats
 * calls), so that the thread counts of a round meet the same load of a shared machine: a row's
 * gflops is the median over the rounds, and pairedScaling the median over the rounds of its rate
 * over the first thread count's in the same round (the 2-thread speed-up, free of the minutes
 * between a 1-thread and a 2-thread pass over all shapes).
 */
import { availableBackends, setBackend, setThreads } from '../src/index.js';
import { GEMM_CEILING_SIZE, gemmMs, median, parseFlags, type GemmShape } from './util.js';

interface Shape extends GemmShape {
  name: string;
}

// [M, N, K] of the forward GEMMs: conv y = W·cols; transposed conv cols = Wᵀ·x.
export const CONV_SHAPES: Shape[] = [
  { name: 'D conv2 fwd (64→128, 32→16)', transA: false, transB: false, m: 128, n: 16384, k: 1024 },
  { name: 'D conv3 fwd (128→256, 16→8)', transA: false, transB: false, m: 256, n: 4096, k: 2048 },
  { name: 'D conv4 fwd (256→512, 8→4)', transA: false, transB: false, m: 512, n: 1024, k: 4096 },
  { name: 'G convT2 fwd (512→256, 4→8)', transA: true, transB: false, m: 4096, n: 1024, k: 512 },
  { name: 'G convT4 fwd (128→64, 16→32)', transA: true, transB: false, m: 1024, n: 16384, k: 128 },
  { name: 'D conv3 filter grad', transA: false, transB: true, m: 256, n: 2048, k: 4096 },
];

// The thin products of G's projection (z → 4×4×512) and D's last layer (4×4×512 → 1 logit), forward and gradients.
export const THIN_SHAPES: Shape[] = [
  { name: 'G projection fwd (100 → 8192)', transA: false, transB: false, m: 64, n: 8192, k: 100 },
  { name: 'G projection weight grad', transA: true, transB: false, m: 100, n: 8192, k: 64 },
  { name: 'D last layer fwd (8192 → 1)', transA: false, transB: true, m: 64, n: 1, k: 8192 },
  { name: 'D last layer input grad (outer product)', transA: false, transB: false, m: 64, n: 8192, k: 1 },
];

// A large square product, the shape a BLAS runs at its best: how near the machine's FMA peak a
// GEMM gets here at all (run.ts reports each row's fraction of the probed peak).
export const CEILING_SHAPES: Shape[] = [
  { name: `square ${GEMM_CEILING_SIZE} (the GEMM ceiling)`, transA: false, transB: false, m: GEMM_CEILING_SIZE, n: GEMM_CEILING_SIZE, k: GEMM_CEILING_SIZE },
];

const flags = parseFlags(process.argv.slice(2));
const threadCounts = (flags['threads'] ?? '1,2').split(',').map(Number);
const repeats = Number(flags['repeats'] ?? 5);
const rounds = Number(flags['rounds'] ?? 3);
const results: object[] = [];
for (const backendName of availableBackends().filter((n) => n !== 'js')) {
  const backend = setBackend(backendName);
  const rows: Array<{ threads: number } & Record<string, unknown>> = [];
  const shapes = [...CONV_SHAPES.map((s) => ({ ...s, kind: 'conv' })), ...THIN_SHAPES.map((s) => ({ ...s, kind: 'thin' })), ...CEILING_SHAPES.map((s) => ({ ...s, kind: 'ceiling' }))];
  for (const s of shapes) {
    const gflops = (ms: number): number => (2 * s.m * s.n * s.k) / ms / 1e6;
    // times[r][i]: round r's median ms at threadCounts[i].
    const times: number[][] = [];
    for (let r = 0; r < rounds; r++) {
      times.push(threadCounts.map((threads) => {
        setThreads(threads);
        return gemmMs(backend, s, repeats);
      }));
    }
    threadCounts.forEach((threads, i) => {
      const ms = median(times.map((round) => round[i]!));
      const scaling = i === 0 ? undefined : +median(times.map((round) => round[0]! / round[i]!)).toFixed(2);
      rows.push({ backend: backendName, threads, shape: s.name, kind: s.kind, m: s.m, n: s.n, k: s.k, ms: +ms.toFixed(4), gflops: +gflops(ms).toFixed(1), pairedScaling: scaling });
    });
  }
  // A backend's rows by thread count, then shape (the sort is stable), as a reader compares them.
  results.push(...rows.sort((a, b) => a.threads - b.threads));
}
console.log(JSON.stringify({ benchmark: 'gemm', rounds, results }));
