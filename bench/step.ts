/**
 * One training-step measurement in a process of its own (so peak RSS is this config's):
 *   node --import tsx bench/step.ts --backend wasm --threads 2 --image-size 64 --channels 3 --batch 64 [--column-budget-mib 8]
 *     [--steps 5] [--warmup 2] [--warmup-seconds 0] [--max-warmup 200]   (the warm-up rule: warmupDone)
 * On the native backend the machine's FMA peak is measured again right after the timed steps, at
 * the same thread count and with bench/peak.ts's settings (fmaPeakGflops): the machine's speed
 * drifts over a bench's minutes, and a step is compared with the peak of its own moment. So is the
 * GEMM ceiling (gemmCeilingGflops, a square product through the backend's GEMM): the FMA probe
 * runs in each core alone, while the GEMM, like the step, moves with the other tenants' memory traffic.
 */
import { setBackend, setConvColumnBudget, setThreads, type NativeBackend } from '../src/index.js';
import { benchmarkTrainingStep, STEADY_WARMUP } from '../src/bench/training-step.js';
import { parseFlags, PEAK_PROBE, squareGemmGflops } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const backend = setBackend(flags['backend'] ?? 'wasm');
setThreads(Number(flags['threads'] ?? 2));
// For measuring the chunked convolutions' memory/time trade (src/ops/conv.ts): MiB of im2col columns per chunk.
if (flags['column-budget-mib'] !== undefined) setConvColumnBudget(Number(flags['column-budget-mib']) * 2 ** 20);
const result = benchmarkTrainingStep({
  imageSize: Number(flags['image-size'] ?? 64),
  channels: Number(flags['channels'] ?? 3) as 1 | 3,
  batch: Number(flags['batch'] ?? 64),
  steps: Number(flags['steps'] ?? 5),
  warmup: Number(flags['warmup'] ?? 2),
  warmupSeconds: Number(flags['warmup-seconds'] ?? 0),
  maxWarmup: Number(flags['max-warmup'] ?? STEADY_WARMUP.maxWarmup),
});
const peak = backend.name === 'native' ? (backend as NativeBackend).fmaPeak({ threads: result.threads, ...PEAK_PROBE }) : null;
const ceiling = peak ? squareGemmGflops(backend) : null;
console.log(JSON.stringify(peak && ceiling ? { ...result, blasCore: (backend as NativeBackend).library.blasCore, fmaPeakGflops: +peak.gflops.toFixed(1), gemmCeilingGflops: +ceiling.toFixed(1) } : result));
