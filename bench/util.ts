/** Small helpers shared by the benchmarks. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { median } from '../src/bench/training-step.js';
import type { Backend, GemmParams } from '../src/kernels/backend.js';

export { median };

/** Median milliseconds of `fn` over `repeats` calls, after one untimed call. */
export function medianMs(fn: () => void, repeats: number): number {
  fn(); // warm up
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A GEMM's shape: C [m × n] = op(A) · op(B), op(A) m × k. */
export type GemmShape = Pick<GemmParams, 'transA' | 'transB' | 'm' | 'n' | 'k'>;

/** Median milliseconds of the backend's GEMM on `shape` over `repeats` calls, after one untimed call. */
export function gemmMs(backend: Backend, shape: GemmShape, repeats: number): number {
  const p: GemmParams = { ...shape, alpha: 1, beta: 0, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
  const a = backend.allocator.alloc(shape.m * shape.k).fill(0.5);
  const b = backend.allocator.alloc(shape.k * shape.n).fill(0.25);
  const c = backend.allocator.alloc(shape.m * shape.n);
  try {
    return medianMs(() => backend.gemm(p, a, b, c), repeats);
  } finally {
    for (const t of [a, b, c]) backend.allocator.free(t);
  }
}

/** The side of the square product a BLAS runs at its best: how near the FMA peak a GEMM gets here at all. */
export const GEMM_CEILING_SIZE = 2048;

/** GFLOP/s of the backend's GEMM on the square product of side `size`. */
export function squareGemmGflops(backend: Backend, size = GEMM_CEILING_SIZE, repeats = 3): number {
  return (2 * size ** 3) / gemmMs(backend, { transA: false, transB: false, m: size, n: size, k: size }, repeats) / 1e6;
}

/** The FMA probe's settings (bench/peak.ts's defaults, and bench/step.ts's probe after the steps): each trial's chains run about `seconds`, and the best of `trials` is the peak. */
export const PEAK_PROBE = { seconds: 0.2, trials: 5 } as const;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * An OPENBLAS_CORETYPE inherited from the shell pins both sides' OpenBLAS to one kernel family
 * whatever the CPU: one machine here came with Haswell's (AVX2) set, about half the GEMM speed of
 * the AVX-512 kernels OpenBLAS picks for its CPU. The benches measure each library at its best
 * on the CPU at hand, so they drop it, saying so, before any process of theirs loads OpenBLAS
 * (every bench script imports this module, whose body runs before the script's own body loads a
 * backend, and the processes they start inherit the environment);
 * DCGAN_BENCH_KEEP_BLAS_CORE=1 keeps it. Our addon then applies its own rule, and PyTorch's
 * OpenBLAS its detection; each side reports the family it ran (blasCore).
 */
if (process.env.OPENBLAS_CORETYPE !== undefined && process.env.DCGAN_BENCH_KEEP_BLAS_CORE !== '1') {
  console.error(`bench: ignoring OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} from the environment, so that each side's OpenBLAS picks its kernels for this CPU (DCGAN_BENCH_KEEP_BLAS_CORE=1 keeps it)`);
  delete process.env.OPENBLAS_CORETYPE;
}

/**
 * PyTorch at its best here: the OpenMP OpenBLAS, not Debian's default reference BLAS (~9× slower);
 * and glibc's malloc told to keep freed memory rather than give it back to the system at once.
 * PyTorch's CPU allocator frees a step's large buffers and allocates them again in the next, so
 * by default each step faults its pages in afresh, which costs most where page faults are slow, as
 * in a VM (BENCHMARKS.md, twenty-second session: a third of the step, at the same peak RSS). The
 * allocators PyTorch's performance guide suggests, jemalloc and tcmalloc, keep it too. Our side
 * keeps its memory in its own arena and measured the same with or without these settings.
 */
export const PEER_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp',
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 36),
  MALLOC_TOP_PAD_: String(1 << 30),
};

/**
 * Runs one measurement in a process of its own and parses the last line of its stdout as
 * JSON; with `showProgress` its stderr goes straight to ours.
 */
export function runJson<T>(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, showProgress = false): T {
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', showProgress ? 'inherit' : 'pipe'] });
  if (result.status !== 0) {
    const why = result.stderr ? result.stderr.trim().split('\n').slice(-3).join(' ') : `status ${String(result.status ?? result.signal)}`;
    throw new Error(`${command} ${args.join(' ')} failed: ${why}`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** The checked-out commit (short hash) that a result was measured on; null outside a git checkout. */
export function gitCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const hash = r.status === 0 ? r.stdout.trim() : '';
  return hash === '' ? null : hash;
}

/** Whether the PyTorch peer can run (python3-torch installed) and was not turned off with --no-peer. */
export function peerAvailable(flags: Record<string, string>): boolean {
  if (flags['no-peer'] === 'true' || !existsSync('/usr/bin/python3')) return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env: PEER_ENV }).status === 0;
}

/** `--name value` pairs (and bare `--flag` as 'true'). */
export function parseFlags(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[arg.slice(2)] = 'true';
    else {
      out[arg.slice(2)] = next;
      i++;
    }
  }
  return out;
}

/** The vector-ISA flags that matter for float throughput, in the order of their width. */
const ISA_FLAGS = ['sse4_2', 'avx', 'fma', 'avx2', 'avx512f', 'avx512dq', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16', 'asimd', 'asimdhp', 'sve', 'sve2'];

/** The CPU as /proc/cpuinfo names it (Linux; nulls elsewhere): model, vendor, family/model numbers, vector ISA flags. */
export function cpuInfo(): { model: string | null; vendor: string | null; family: number | null; modelNumber: number | null; isa: string[] } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux
  }
  const field = (name: string): string | null => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? null;
  const number = (name: string): number | null => {
    const v = field(name);
    return v === null ? null : Number(v);
  };
  const flags = new Set((field('flags') ?? field('Features') ?? '').split(/\s+/));
  return { model: field('model name'), vendor: field('vendor_id'), family: number('cpu family'), modelNumber: number('model'), isa: ISA_FLAGS.filter((f) => flags.has(f)) };
}
