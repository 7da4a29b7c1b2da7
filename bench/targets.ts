/**
 * Issue 14's targets, read off one `npm run bench` report (bench/run.ts): what each target
 * measured on this CPU, and whether it is met; and the report as a row of BENCHMARKS.md's table
 * of the targets by CPU kind, so that a run on any machine says at once how that kind stands.
 * Ratios are the paired medians at 2 threads and, for the steps, also best over best (each side
 * at its fastest thread count), as the issue asks. A target whose numbers the report lacks (no
 * peer, a backend not benched) is listed with `met: null`.
 */

export interface TargetCheck {
  backend: 'native' | 'wasm';
  target: string;
  /** The measured value the limit applies to (the worst where there are several), or null. */
  measured: number | null;
  comparison: '≤' | '≥';
  limit: number;
  met: boolean | null;
}

interface ThreadRow {
  threads: number;
  stepMs: number;
  inferenceMs: number;
  peakRssMiB: number;
  pairedFractionOfPeak?: number | null;
}
interface SideSummary {
  perThreads: ThreadRow[];
}
interface Headline {
  stepRatioBestOverBest: number | null;
  pairedStepRatio: Record<string, number | null>;
  pairedInferenceRatio: Record<string, number | null>;
}
interface ConfigRow {
  config: string;
  summary: Record<string, SideSummary | undefined>;
  headline: Record<string, Headline | undefined>;
}
interface GemmRow {
  backend: string;
  threads: number;
  shape: string;
  kind?: string;
  gflops: number;
  pairedScaling?: number;
}
/** The parts of bench/run.ts's report that the targets read. */
export interface BenchReport {
  machine?: { cpu?: string; cpuFamily?: number | null; cpuModel?: number | null; isa?: string[] };
  gemm?: GemmRow[];
  dcgan?: ConfigRow[];
}

/** The two configurations the targets name, as bench/run.ts labels them. */
export const TARGET_CONFIGS = ['64x64x3 batch 64', '32x32x1 batch 64'] as const;

const STEP_LIMIT = { native: 0.6, wasm: 1.3 } as const;
const INFERENCE_LIMIT = 0.4;
const FMA_SHARE_LIMIT = 0.7;
const WASM_GEMM_LIMIT = 45;
const WASM_SCALING_LIMIT = 1.8;

function check(backend: TargetCheck['backend'], target: string, values: Array<number | null | undefined>, comparison: TargetCheck['comparison'], limit: number): TargetCheck {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (known.length < values.length || known.length === 0) return { backend, target, measured: null, comparison, limit, met: null };
  const worst = comparison === '≤' ? Math.max(...known) : Math.min(...known);
  return { backend, target, measured: worst, comparison, limit, met: comparison === '≤' ? worst <= limit : worst >= limit };
}

const configRow = (report: BenchReport, config: string): ConfigRow | undefined => report.dcgan?.find((row) => row.config === config);
const threadRow = (side: SideSummary | undefined, threads: number): ThreadRow | undefined => side?.perThreads.find((row) => row.threads === threads);
/** The six convolution shapes of bench/gemm.ts (rows of older reports carry no kind: their names say). */
const isConvShape = (row: GemmRow): boolean => (row.kind === undefined ? /\bconv/.test(row.shape) : row.kind === 'conv');

/** What the targets read, per target: one value per size (64×64×3, 32×32×1) where there are two. */
interface Measures {
  pairedStep: Record<'native' | 'wasm', Array<number | null | undefined>>;
  bestStep: Record<'native' | 'wasm', Array<number | null | undefined>>;
  pairedInference: Array<number | null | undefined>;
  /** Peak RSS at 64×64×3 on 2 threads, ours and PyTorch's. */
  rss: [number | undefined, number | undefined];
  fmaShare: Array<number | null | undefined>;
  /** The wasm GEMM on the conv shapes: 1-thread GFLOP/s, 2-thread paired scaling. */
  wasmGemm: number[];
  wasmScaling: Array<number | undefined>;
}

function readMeasures(report: BenchReport): Measures {
  const rows = TARGET_CONFIGS.map((config) => configRow(report, config));
  const headline = (backend: string, pick: (h: Headline) => number | null | undefined) => rows.map((row) => {
    const h = row?.headline[backend];
    return h === undefined ? null : pick(h);
  });
  const big = rows[0]?.summary;
  const wasmConv = (report.gemm ?? []).filter((row) => row.backend === 'wasm' && isConvShape(row));
  return {
    pairedStep: { native: headline('native', (h) => h.pairedStepRatio['2t']), wasm: headline('wasm', (h) => h.pairedStepRatio['2t']) },
    bestStep: { native: headline('native', (h) => h.stepRatioBestOverBest), wasm: headline('wasm', (h) => h.stepRatioBestOverBest) },
    pairedInference: headline('native', (h) => h.pairedInferenceRatio['2t']),
    rss: [threadRow(big?.['native'], 2)?.peakRssMiB, threadRow(big?.['pytorch'], 2)?.peakRssMiB],
    fmaShare: rows.map((row) => threadRow(row?.summary['native'], 2)?.pairedFractionOfPeak),
    wasmGemm: wasmConv.filter((row) => row.threads === 1).map((row) => row.gflops),
    wasmScaling: wasmConv.filter((row) => row.threads === 2).map((row) => row.pairedScaling),
  };
}

/** Every target of issue 14 that applies to the backends in the report. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const measures = readMeasures(report);
  const benched = (backend: string): boolean => (report.dcgan ?? []).some((row) => row.summary[backend] !== undefined);
  for (const backend of ['native', 'wasm'] as const) {
    if (!benched(backend)) continue;
    checks.push(check(backend, 'step, paired at 2 threads (64×64×3, 32×32×1)', measures.pairedStep[backend], '≤', STEP_LIMIT[backend]));
    checks.push(check(backend, 'step, best over best (64×64×3, 32×32×1)', measures.bestStep[backend], '≤', STEP_LIMIT[backend]));
    if (backend === 'native') {
      checks.push(check(backend, 'generator inference, paired at 2 threads', measures.pairedInference, '≤', INFERENCE_LIMIT));
      const [ours, peer] = measures.rss;
      checks.push(check(backend, 'peak RSS at 64×64×3, 2 threads, over PyTorch’s', [ours !== undefined && peer !== undefined ? +(ours / peer).toFixed(2) : null], '≤', 1));
      checks.push(check(backend, 'FMA share at 2 threads, probed beside each step', measures.fmaShare, '≥', FMA_SHARE_LIMIT));
    } else {
      checks.push(check(backend, 'GEMM per thread on the conv shapes, GFLOP/s', measures.wasmGemm.length ? measures.wasmGemm : [null], '≥', WASM_GEMM_LIMIT));
      checks.push(check(backend, '2-thread GEMM scaling on the conv shapes', measures.wasmScaling.length ? measures.wasmScaling : [null], '≥', WASM_SCALING_LIMIT));
    }
  }
  return checks;
}

/** The widest vector ISA among /proc/cpuinfo's flags, as the table names CPU kinds. */
function widestVectors(isa: readonly string[]): string {
  const name = isa.includes('avx512f') ? 'AVX-512' : isa.includes('avx2') ? 'AVX2' : isa.includes('sve') ? 'SVE' : isa.includes('asimd') ? 'NEON' : null;
  return name === null ? '' : `, ${name}`;
}

const fixed2 = (v: number | null | undefined): string => (typeof v === 'number' ? v.toFixed(2) : '—');
const pair = (values: Array<number | null | undefined>, format: (v: number | null | undefined) => string = fixed2): string => values.map(format).join(' / ');
const range = (values: number[], digits: number): string =>
  values.length === 0 ? '—' : `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/**
 * The report as a row of BENCHMARKS.md's "Issue 14's targets by CPU kind" table: CPU; native step
 * 64×64×3 / 32×32×1; native inference; native peak RSS at 64×64×3, ours / PyTorch; FMA share;
 * wasm step 64×64×3 / 32×32×1; wasm GEMM per thread, 2-thread scaling. Paired at 2 threads.
 */
export function targetsTableRow(report: BenchReport): string {
  const m = report.machine ?? {};
  const cpu = `${m.cpu ?? 'unknown CPU'} (family ${m.cpuFamily ?? '?'}, model ${m.cpuModel ?? '?'}${widestVectors(m.isa ?? [])})`;
  const measures = readMeasures(report);
  const scaling = measures.wasmScaling.filter((v): v is number => typeof v === 'number');
  const cells = [
    cpu,
    pair(measures.pairedStep.native),
    pair(measures.pairedInference),
    measures.rss.every((v) => typeof v === 'number') ? `${measures.rss.map((v) => v!.toFixed(0)).join(' / ')} MiB` : '—',
    pair(measures.fmaShare, (v) => (typeof v === 'number' ? `${(v * 100).toFixed(0)}%` : '—')),
    pair(measures.pairedStep.wasm),
    measures.wasmGemm.length ? `${range(measures.wasmGemm, 1)}, ${range(scaling, 2)}` : '—',
  ];
  return `| ${cells.join(' | ')} |`;
}

/** One line per target for a person reading stderr: met, missed or not measured. */
export function describeTargets(checks: readonly TargetCheck[]): string {
  const met = checks.filter((c) => c.met === true).length;
  const lines = checks.map((c) => {
    const verdict = c.met === null ? 'not measured' : c.met ? 'met' : 'MISSED';
    const value = c.measured === null ? '—' : String(+c.measured.toFixed(3));
    return `  ${c.backend} ${c.target}: ${value} (target ${c.comparison} ${c.limit}) ${verdict}`;
  });
  return [`issue 14's targets on this CPU: ${met} of ${checks.length} met`, ...lines].join('\n');
}
