/**
 * Which algorithm computes a convolution pass (ops/conv.ts): the backend's policy, or where it
 * says 'time', the fastest of its direct convolution's variants and im2col + GEMM, measured at
 * the layer's first use. Choices are kept for the process, given to a store that keeps them
 * between runs (Node: io/convolution-choices.ts), and carried by checkpoints.
 */
import type { ConvGeometry, DirectConvPass } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';

/** How a pass of a layer is computed. */
export type ConvAlgorithm = 'direct' | 'gemm';

/** What timing chose for one pass of one layer (see convolutionChoices). */
export interface ConvolutionChoice {
  backend: string;
  threads: number;
  pass: DirectConvPass;
  geometry: ConvGeometry;
  /** Channels of the column side. */
  k: number;
  /** 'convolve' only: the weight gradient follows (timed with each algorithm: GEMM keeps the columns for it). */
  withWeightGrad: boolean;
  /**
   * 'adjoint' and 'weights' only: the pass takes the gradient at a rectifier's output and the
   * choice is between the direct convolution passing it back through the rectifier itself
   * ('direct') and the rectifier's own pass, then the plain pass as its own choice says ('gemm').
   * Absent: a plain pass.
   */
  rectified?: true;
  algorithm: ConvAlgorithm;
  /** Which of the backend's directConvolutionVariants ('direct' only; 0 otherwise). */
  variant: number;
  /** Median milliseconds of each (direct: its fastest variant; null: the direct convolution declined this layer). */
  directMs: number | null;
  gemmMs: number;
}

/** What timing one pass of one layer measured. */
export interface Timing {
  directMs: number | null;
  variant: number;
  gemmMs: number;
}

/** GEMM replaces the direct convolution only when this much faster: a near tie keeps the backend's usual choice. */
const GEMM_MARGIN = 0.9;
const TIMED_RUNS = 5;
/** Rounds of turns where two or more variants compete: more than one time's median, as they are ranked on ratios. */
const VARIANT_ROUNDS = 7;
/** Every choice known here: timed, restored from a checkpoint, or read from the store. */
const timedChoices = new Map<string, ConvolutionChoice>();
/** The ones this run has used or was given by its checkpoint, in that order: what its checkpoints carry on. */
const runChoices = new Map<string, ConvolutionChoice>();

/** The choices this process has used (timed here, read from the store or given by a checkpoint), in the order of first use. */
export function convolutionChoices(): ConvolutionChoice[] {
  return [...runChoices.values()];
}

/** Forgets the timed choices (the next use of each layer times again, or takes the store's). For measurements and tests. */
export function clearConvolutionChoices(): void {
  timedChoices.clear();
  runChoices.clear();
  storeRead = false;
}

/**
 * Where timed choices outlive the process, so that every run on a machine computes each layer
 * the same way (and a run and its resumption after a kill agree bitwise). In Node the package
 * root installs one on a file in the cache folder; browsers keep choices per page.
 */
export interface ConvolutionChoiceStore {
  /** The choices kept for this machine and backend. */
  load(): ConvolutionChoice[];
  /** Adds choices; ones it already holds for the same layer stay as they are (the first timing wins). */
  save(choices: readonly ConvolutionChoice[]): void;
}

let store: ConvolutionChoiceStore | null = null;
let storeRead = false;
/** How many timings are under way (a convolve pass times the weight pass it would take). */
let timing = 0;

/** Installs (or with null removes) the store of timed choices; returns the previous one. */
export function setConvolutionChoiceStore(next: ConvolutionChoiceStore | null): ConvolutionChoiceStore | null {
  const previous = store;
  store = next;
  storeRead = false;
  return previous;
}

/** A geometry's fields, in the order keys and files list them. */
const GEOMETRY_KEYS = ['n', 'c', 'h', 'w', 'kh', 'kw', 'strideH', 'strideW', 'padH', 'padW', 'outH', 'outW'] as const;

function choiceKey(backend: string, threads: number, pass: DirectConvPass, withWeightGrad: boolean, k: number, g: ConvGeometry, rectified: boolean): string {
  // Plain passes keep the keys they had before rectified ones existed.
  return [backend, threads, rectified ? `${pass}+rectifier` : pass, withWeightGrad ? 1 : 0, k, ...GEOMETRY_KEYS.map((key) => g[key])].join(',');
}

/** What a choice is about (backend, threads, pass, layer), as a string: two choices with the same key are for the same thing. */
export function convolutionChoiceKey(c: ConvolutionChoice): string {
  return choiceKey(c.backend, c.threads, c.pass, c.withWeightGrad, c.k, c.geometry, c.rectified === true);
}

/**
 * Takes choices made before (a checkpoint's) as if timed here: a resumed run computes each
 * layer the way the run it continues did, so it stays bitwise the same. Choices for another
 * backend or thread count are kept but never match; later timings do not override these.
 */
export function restoreConvolutionChoices(choices: readonly ConvolutionChoice[]): void {
  for (const c of choices) {
    const key = convolutionChoiceKey(c);
    const copy = { ...c, geometry: { ...c.geometry } };
    timedChoices.set(key, copy);
    runChoices.set(key, copy);
  }
}

/** A ConvolutionChoice read from a file, checked field by field; null when it is not one. */
export function parseConvolutionChoice(value: unknown): ConvolutionChoice | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const g = v['geometry'];
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  const ms = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (
    typeof v['backend'] !== 'string' || !count(v['threads']) || !['convolve', 'adjoint', 'weights'].includes(v['pass'] as string) ||
    typeof v['withWeightGrad'] !== 'boolean' || !count(v['k']) || !['direct', 'gemm'].includes(v['algorithm'] as string) ||
    !(v['directMs'] === null || ms(v['directMs'])) || !ms(v['gemmMs']) || !(v['variant'] === undefined || count(v['variant'])) ||
    !(v['rectified'] === undefined || (v['rectified'] === true && v['pass'] !== 'convolve')) ||
    g === null || typeof g !== 'object' || !GEOMETRY_KEYS.every((key) => count((g as Record<string, unknown>)[key]))
  ) {
    return null;
  }
  const geometry = Object.fromEntries(GEOMETRY_KEYS.map((key) => [key, (g as Record<string, number>)[key]])) as unknown as ConvGeometry;
  return {
    backend: v['backend'], threads: v['threads'], pass: v['pass'] as DirectConvPass, geometry, k: v['k'], withWeightGrad: v['withWeightGrad'],
    algorithm: v['algorithm'] as ConvAlgorithm, variant: (v['variant'] as number | undefined) ?? 0, directMs: v['directMs'] as number | null, gemmMs: v['gemmMs'],
    ...(v['rectified'] === true ? { rectified: true as const } : {}),
  };
}

/** The middle of an odd number of values. */
function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1]!;
}

/** Median milliseconds of `run` after one untimed call; null when that call declines (returns false). */
export function medianMs(run: () => boolean | void): number | null {
  if (run() === false) return null;
  const times: number[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return middle(times);
}

/**
 * The fastest variant of the backend's direct convolution for `run`, and its median time (null:
 * every variant declined). After one untimed call each, the variants take turns, VARIANT_ROUNDS
 * rounds, each round starting one variant later (a lone variant is timed TIMED_RUNS times); the
 * winner has the least median over rounds of its time over the round's fastest. A shared
 * machine's speed drifts within seconds: timed one after another, a variant timed in a slow
 * stretch lost to a slower one timed in a fast stretch, and a layer's choice changed from one run
 * to the next. `now`: the clock, in milliseconds (a test gives one of its own).
 */
export function fastestDirect(run: (variant: number) => boolean, now: () => number = () => performance.now()): { directMs: number | null; variant: number } {
  const count = getBackend().directConvolutionVariants?.length ?? 1;
  const variants: number[] = [];
  for (let variant = 0; variant < count; variant++) if (run(variant)) variants.push(variant);
  if (variants.length === 0) return { directMs: null, variant: 0 };
  const times = variants.map((): number[] => []), relative = variants.map((): number[] => []);
  const rounds = variants.length > 1 ? VARIANT_ROUNDS : TIMED_RUNS;
  for (let round = 0; round < rounds; round++) {
    const ms = variants.map(() => 0);
    for (let turn = 0; turn < variants.length; turn++) {
      const i = (round + turn) % variants.length;
      const t0 = now();
      run(variants[i]!);
      ms[i] = now() - t0;
    }
    const fastest = Math.min(...ms);
    ms.forEach((t, i) => {
      times[i]!.push(t);
      relative[i]!.push(fastest > 0 ? t / fastest : 1);
    });
  }
  const score = relative.map(middle);
  let best = 0;
  for (let i = 1; i < variants.length; i++) if (score[i]! < score[best]!) best = i;
  return { directMs: middle(times[best]!), variant: variants[best]! };
}

/**
 * The algorithm (and direct variant) for a pass of a layer: the backend's policy, or under
 * 'time' the faster measured by `time` (once per backend, thread count, pass and layer, and
 * whether a rectifier's gradient goes through the pass: ConvolutionChoice.rectified).
 */
export function chooseAlgorithm(
  pass: DirectConvPass,
  g: ConvGeometry,
  k: number,
  withWeightGrad: boolean,
  time: () => Timing,
  rectified = false,
): { algorithm: ConvAlgorithm; variant: number } {
  const backend = getBackend();
  const policy = backend.directConvolution === undefined ? 'gemm' : (backend.convolutionPolicy?.(pass, g, k) ?? 'direct');
  if (policy !== 'time') return { algorithm: policy, variant: 0 };
  const threads = backend.threads ?? 1;
  const key = choiceKey(backend.name, threads, pass, withWeightGrad, k, g, rectified);
  if (!timedChoices.has(key) && store !== null && !storeRead) {
    // A checkpoint's choices (restored before) take precedence over the store's.
    storeRead = true;
    for (const c of store.load()) if (!timedChoices.has(convolutionChoiceKey(c))) timedChoices.set(convolutionChoiceKey(c), c);
  }
  let choice = timedChoices.get(key);
  // A direct variant this backend does not have (a choice made by another version of it) is timed again.
  if (choice !== undefined && choice.algorithm === 'direct' && choice.variant >= (backend.directConvolutionVariants?.length ?? 1)) choice = undefined;
  if (choice === undefined) {
    timing++;
    let measured: Timing;
    try {
      measured = time();
    } finally {
      timing--;
    }
    const { directMs, gemmMs } = measured;
    const algorithm = directMs !== null && gemmMs >= directMs * GEMM_MARGIN ? 'direct' : 'gemm';
    const variant = algorithm === 'direct' ? measured.variant : 0;
    choice = { backend: backend.name, threads, pass, geometry: { ...g }, k, withWeightGrad, algorithm, variant, directMs, gemmMs, ...(rectified ? { rectified: true as const } : {}) };
    timedChoices.set(key, choice);
    store?.save([choice]);
  }
  // A pass consulted only while another one is timed is not one this run uses. A choice timed
  // again (one restored with a variant this backend lacks) replaces the one it stood in for.
  if (timing === 0 && runChoices.get(key) !== choice) runChoices.set(key, choice);
  return { algorithm: choice.algorithm, variant: choice.variant };
}
