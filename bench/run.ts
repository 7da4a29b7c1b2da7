/**
 * `npm run bench`: GEMM throughput, then the DCGAN training step and generator inference
 * (64×64×3 and 32×32×1, batch 64) for our backend(s) at 1 and 2 threads, side by side in the
 * same run with PyTorch (bench/peers/pytorch_dcgan.py) when python3-torch is installed.
 * Every measurement runs in a process of its own, one at a time. This machine is shared and
 * noisy, so the whole comparison is repeated in rounds (ours, then PyTorch, alternately) and
 * the headline ratios are medians over the rounds of ours ÷ PyTorch measured back to back.
 * Where the native addon is built, the machine's FMA peak is measured first (bench/peak.ts) at
 * each thread count, and each side's step rate (the convolutions' FLOPs, trainingStepFlops,
 * per second) is reported as a fraction of the peak at the same thread count (fractionOfPeak).
 * The native backend's runs also probe the peak right after their own steps: pairedFractionOfPeak
 * is the median over the rounds of each run's rate over its own probe, as robust to the
 * machine's drift over the bench's minutes as the paired ratios. They also time a square GEMM
 * there: pairedFractionOfGemmCeiling is the same median over that (how near this machine's best
 * GEMM of that moment the step runs; the FMA probe does not feel the other tenants' memory traffic).
 * Prints one JSON object.
 *
 * Both sides are timed at their steady state: untimed steps first, at least 2 and then more until
 * --warmup-seconds (8) have passed, at most --max-warmup (200) (warmupDone in
 * src/bench/training-step.ts; --warmup-seconds 0 gives the earlier protocol, 2 warm-up steps).
 *
 *   npm run bench [-- --quick] [-- --no-peer] [-- --rounds 3] [-- --backends native,wasm]
 *                 [-- --warmup-seconds 8] [-- --max-warmup 200]
 */
import { cpus } from 'node:os';
import { availableBackends, getBackend } from '../src/index.js';
import { STEADY_WARMUP, trainingStepFlops } from '../src/bench/training-step.js';
import { checkTargets, describeTargets, targetsTableRow, type BenchReport } from './targets.js';
import { cpuInfo, gitCommit, median, parseFlags, PEER_ENV, peerAvailable, runJson as run } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const quick = flags['quick'] === 'true';
const configs = [
  { imageSize: 64, channels: 3, batch: 64 },
  { imageSize: 32, channels: 1, batch: 64 },
];
const threadCounts = [1, 2];
const steps = quick ? 2 : 5;
const rounds = Number(flags['rounds'] ?? (quick ? 1 : 3));
const warmupSeconds = Number(flags['warmup-seconds'] ?? (quick ? 0 : STEADY_WARMUP.warmupSeconds));
const maxWarmup = Number(flags['max-warmup'] ?? STEADY_WARMUP.maxWarmup);
const warmup = ['--warmup', String(STEADY_WARMUP.warmup), '--warmup-seconds', String(warmupSeconds), '--max-warmup', String(maxWarmup)];
// Default: the backend a user gets (native where its addon was built, else wasm).
const backends = (flags['backends'] ?? getBackend().name).split(',');
for (const b of backends) {
  if (!availableBackends().includes(b)) throw new Error(`bench: backend '${b}' is not available here (available: ${availableBackends().join(', ')})`);
}

type Row = Record<string, unknown>;

const round2 = (v: number): number => +v.toFixed(2);
const tsx = ['--import', 'tsx'];
const cpu = cpuInfo();
const report: Row = {
  machine: { cpu: cpus()[0]?.model, cpuFamily: cpu.family, cpuModel: cpu.modelNumber, isa: cpu.isa, cores: cpus().length, node: process.version },
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  backends,
  rounds,
  warmup: { minSteps: STEADY_WARMUP.warmup, seconds: warmupSeconds, maxSteps: maxWarmup },
};
// The FMA peak per thread count ('1t', '2t'), measured: the denominator of each step's fraction of peak.
let peak: Record<string, number> | null = null;
// WebAssembly SIMD is 128 bits wide: its ceiling is the 128-bit FMA peak (one thread, scaled to more by the widest ISA's own scaling).
let peak128: Record<string, number> | null = null;
if (availableBackends().includes('native')) {
  process.stderr.write('bench: FMA peak…\n');
  const probe = run<Row>(process.execPath, [...tsx, 'bench/peak.ts', '--threads', threadCounts.join(',')]);
  peak = probe['gflops'] as Record<string, number>;
  report['fmaPeak'] = { isa: probe['isa'], gflops: peak, wallGflops: probe['wallGflops'], byIsa1t: probe['byIsa1t'] };
  const fma128 = (probe['byIsa1t'] as Record<string, number>)['fma128'];
  if (fma128 !== undefined && peak['1t'] !== undefined) {
    const widest = peak;
    peak128 = Object.fromEntries(threadCounts.map((t) => [`${t}t`, round2((fma128 * (widest[`${t}t`] ?? t * widest['1t']!)) / widest['1t']!)]));
    report['fmaPeak128'] = peak128;
  }
} else {
  report['fmaPeak'] = null;
}

process.stderr.write('bench: GEMM…\n');
// Each native row's rate over the FMA peak at its thread count: with the square product's, what share of the peak a GEMM reaches here at all.
report['gemm'] = (run<Row>(process.execPath, [...tsx, 'bench/gemm.ts', '--repeats', String(steps)])['results'] as Row[]).map((row) => {
  const threadPeak = row['backend'] === 'native' ? peak?.[`${row['threads'] as number}t`] : undefined;
  return threadPeak ? { ...row, fractionOfPeak: +((row['gflops'] as number) / threadPeak).toFixed(3) } : row;
});

const withPeer = peerAvailable(flags);
if (!withPeer) process.stderr.write('bench: PyTorch peer not available (apt-get install python3-torch libopenblas0-openmp); ours only\n');
const rows: Row[] = [];
for (const c of configs) {
  const stepFlops = trainingStepFlops({ imageSize: c.imageSize, channels: c.channels as 1 | 3, nz: 100, ngf: 64, ndf: 64, projection: 'conv' }, c.batch);
  const args = ['--image-size', String(c.imageSize), '--channels', String(c.channels), '--batch', String(c.batch), '--steps', String(steps), ...warmup];
  const runs: Row[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const threads of threadCounts) {
      process.stderr.write(`bench: ${c.imageSize}×${c.imageSize}×${c.channels} batch ${c.batch}, ${threads} thread(s), round ${r + 1}/${rounds}…\n`);
      for (const backend of backends) {
        runs.push({ round: r, side: backend, ...run<Row>(process.execPath, [...tsx, 'bench/step.ts', '--backend', backend, '--threads', String(threads), ...args]) });
      }
      if (withPeer) {
        const peerArgs = ['bench/peers/pytorch_dcgan.py', '--threads', String(threads), '--batch', String(c.batch), '--image-size', String(c.imageSize), '--channels', String(c.channels), '--steps', String(steps), ...warmup];
        runs.push({ round: r, side: 'pytorch', ...run<Row>('/usr/bin/python3', peerArgs, PEER_ENV) });
      }
    }
  }
  // Per side and thread count: medians over the rounds; the side's best thread count is its headline.
  const sides = withPeer ? [...backends, 'pytorch'] : backends;
  const summary: Record<string, Row> = {};
  for (const side of sides) {
    const perThreads = threadCounts.map((threads) => {
      const mine = runs.filter((x) => x['side'] === side && x['threads'] === threads);
      const stepMs = median(mine.map((x) => x['stepMs'] as number));
      const effectiveGflops = stepFlops / stepMs / 1e6;
      const threadPeak = peak?.[`${threads}t`];
      return {
        threads,
        stepMs: round2(stepMs),
        effectiveGflops: round2(effectiveGflops),
        fractionOfPeak: threadPeak ? +(effectiveGflops / threadPeak).toFixed(3) : null,
        // Each run's rate over the peak probed in its own process right after its steps (bench/step.ts), median over the rounds.
        pairedFractionOfPeak: mine.every((x) => typeof x['fmaPeakGflops'] === 'number')
          ? +median(mine.map((x) => stepFlops / (x['stepMs'] as number) / 1e6 / (x['fmaPeakGflops'] as number))).toFixed(3)
          : null,
        // The same over the square GEMM timed in that process (bench/step.ts): the step's rate against this machine's best GEMM at that moment.
        pairedFractionOfGemmCeiling: mine.every((x) => typeof x['gemmCeilingGflops'] === 'number')
          ? +median(mine.map((x) => stepFlops / (x['stepMs'] as number) / 1e6 / (x['gemmCeilingGflops'] as number))).toFixed(3)
          : null,
        ...(side === 'wasm' && peak128 ? { fractionOf128BitPeak: +(effectiveGflops / peak128[`${threads}t`]!).toFixed(3) } : {}),
        inferenceMs: round2(median(mine.map((x) => x['inferenceMs'] as number))),
        peakRssMiB: Math.max(...mine.map((x) => x['peakRssMiB'] as number)),
      };
    });
    const bestStep = perThreads.reduce((a, b) => (b.stepMs < a.stepMs ? b : a));
    const bestInference = perThreads.reduce((a, b) => (b.inferenceMs < a.inferenceMs ? b : a));
    summary[side] = { perThreads, bestStepMs: bestStep.stepMs, bestStepThreads: bestStep.threads, bestStepFractionOfPeak: bestStep.fractionOfPeak, bestInferenceMs: bestInference.inferenceMs, bestInferenceThreads: bestInference.threads };
  }
  // Ratios from runs made back to back (same round, same thread count): robust to the machine's drift.
  const paired = (backend: string, key: string, threads: number): number | null => {
    if (!withPeer) return null;
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const ours = runs.find((x) => x['round'] === r && x['side'] === backend && x['threads'] === threads);
      const peer = runs.find((x) => x['round'] === r && x['side'] === 'pytorch' && x['threads'] === threads);
      if (ours && peer) ratios.push((ours[key] as number) / (peer[key] as number));
    }
    return round2(median(ratios));
  };
  const headline: Row = {};
  for (const backend of backends) {
    const ours = summary[backend]!;
    const peer = summary['pytorch'];
    headline[backend] = {
      stepRatioBestOverBest: peer ? round2((ours['bestStepMs'] as number) / (peer['bestStepMs'] as number)) : null,
      inferenceRatioBestOverBest: peer ? round2((ours['bestInferenceMs'] as number) / (peer['bestInferenceMs'] as number)) : null,
      pairedStepRatio: Object.fromEntries(threadCounts.map((t) => [`${t}t`, paired(backend, 'stepMs', t)])),
      pairedInferenceRatio: Object.fromEntries(threadCounts.map((t) => [`${t}t`, paired(backend, 'inferenceMs', t)])),
    };
  }
  rows.push({ config: `${c.imageSize}x${c.imageSize}x${c.channels} batch ${c.batch}`, stepGflop: round2(stepFlops / 1e9), summary, headline, runs });
}
report['dcgan'] = rows;
// Issue 14's targets on this CPU, and the row this run adds to BENCHMARKS.md's table of them by CPU kind.
const targets = checkTargets(report as BenchReport);
report['targets'] = targets;
process.stderr.write(`bench: ${describeTargets(targets)}\nbench: as a row of BENCHMARKS.md's targets by CPU kind:\n${targetsTableRow(report as BenchReport)}\n`);
const commit = gitCommit();
if (commit !== null) report['commit'] = commit;
console.log(JSON.stringify(report, null, 2));
