/**
 * The machine's single-precision FMA peak (native/src/peak.c: independent FMA chains at the
 * widest vector ISA the CPU has) for each thread count, the threads running the chains at once
 * (ask for at most as many threads as cores), and on one thread for each ISA the CPU supports
 * (fma128, FMA on 128-bit vectors, is the ceiling of WebAssembly SIMD);
 * with the CPU's model and ISA flags. Needs the native addon. Prints one JSON object.
 *   node --import tsx bench/peak.ts [--threads 1,2] [--seconds 0.2] [--trials 5]
 */
import { setBackend, type NativeBackend } from '../src/index.js';
import { cpuInfo, parseFlags, PEAK_PROBE } from './util.js';

const flags = parseFlags(process.argv.slice(2));
const threadCounts = (flags['threads'] ?? '1,2').split(',').map(Number);
const seconds = Number(flags['seconds'] ?? PEAK_PROBE.seconds);
const trials = Number(flags['trials'] ?? PEAK_PROBE.trials);
const backend = setBackend('native') as NativeBackend;
const round1 = (v: number): number => +v.toFixed(1);

// gflops: over each thread's CPU time (other work on the machine does not lower it); wallGflops: over the wall clock.
const gflops: Record<string, number> = {};
const wallGflops: Record<string, number> = {};
let isa = '';
for (const threads of threadCounts) {
  const peak = backend.fmaPeak({ threads, seconds, trials })!;
  gflops[`${threads}t`] = round1(peak.gflops);
  wallGflops[`${threads}t`] = round1(peak.wallGflops);
  isa = peak.isa;
}
const byIsa1t: Record<string, number> = {};
for (const name of ['avx512', 'avx2', 'fma128', 'sse', 'neon', 'scalar']) {
  const peak = backend.fmaPeak({ threads: 1, seconds, trials, isa: name });
  if (peak !== null) byIsa1t[name] = round1(peak.gflops);
}
console.log(JSON.stringify({ benchmark: 'fma-peak', cpu: cpuInfo(), isa, gflops, wallGflops, byIsa1t }));
