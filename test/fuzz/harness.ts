/**
 * One seeded fuzzing harness for every parser of untrusted bytes (safetensors, IDX, CIFAR-10,
 * PNG/JPEG image files, the image-folder cache file, and any parser added later).
 *
 * HOW TO ADD A PARSER (e.g. a .pth reader): write test/fuzz/<name>.test.ts with
 *
 *   import { fuzzParser, fuzzTest } from './harness.js';
 *   fuzzTest({
 *     name: 'pth',
 *     seeds: [validFileBytes, anotherValidFile],        // small valid files (a few KB each)
 *     parse: (bytes) => decodePth(bytes, 'fuzz.pth'),    // synchronous: bytes → result
 *     allowedErrors: [PthError],                          // the project's own error types
 *     check: (result, input) => { ... },                  // optional: throw if a result is wrong
 *     fields: (seed) => [{ offset: 8, size: 4, littleEndian: true }], // optional: length fields
 *     sections: (seed) => [[start, end], ...],            // optional: chunk/record boundaries
 *     mutators: [(bytes, rng) => ...],                    // optional: format-aware mutations
 *     iterations: 1000,                                   // default count; DCGAN_FUZZ_ITERATIONS overrides
 *   });
 *
 * fuzzTest declares a node:test test that runs fuzzParser and fails on any bad outcome;
 * fuzzParser alone returns the report (cases, outcome counts, failures) for other uses.
 *
 * Each case takes a seed and applies 1–3 mutations (one in 60% of cases): truncation, bit flips, byte runs
 * (0x00 / 0xFF / random), inserted and deleted bytes, numeric fields set to 0 / 1 / huge /
 * 0x7FFFFFFF / 0xFFFFFFFF (−1) / the file length (in `fields`, or at random offsets in both
 * byte orders), duplicated, removed and swapped sections (`sections`, or random slices), splices
 * of two seeds, and the target's own `mutators`. The seeds themselves are case 0…n−1.
 *
 * A case passes when `parse` returns (and `check` accepts the result) or throws one of
 * `allowedErrors` with a non-empty, one-line message of at most 500 characters. It fails on any
 * other exception (a crash), on running longer than `timeBoxMs` (the parse runs under a vm
 * watchdog, so even an endless loop is cut off), and on growing the heap + array buffers by more
 * than `maxHeapGrowthBytes`. Failing inputs are written to $DCGAN_FUZZ_SAVE (default
 * <tmpdir>/dcgan-fuzz-failures) so they can be replayed with `parse` directly.
 *
 * Environment: DCGAN_FUZZ_ITERATIONS=N runs N cases per parser instead of the default;
 * DCGAN_FUZZ_SEED=S changes the random seed (default 1). Every run prints one line per parser:
 *   fuzz <name>: <cases> cases (seed S, T s): <p> parsed, <r> rejected (<Error> <count>, …), <f> failures;
 *   slowest case <ms>, largest heap growth of one case <MiB>
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import vm from 'node:vm';

/** A numeric field of a seed file (a length, a count, an offset). */
export interface FuzzField {
  offset: number;
  size: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

/** A seeded random source for mutations: next() in [0, 1), int(n) in [0, n). */
export interface FuzzRandom {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

export type Mutator = (bytes: Uint8Array, rng: FuzzRandom) => Uint8Array;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface FuzzTarget<T> {
  name: string;
  /** Valid inputs to mutate (keep them small: a few KB). */
  seeds: Uint8Array[];
  /** The parser under test: bytes in, a result out or an error thrown. Synchronous. */
  parse: (bytes: Uint8Array) => T;
  /** Error types a parser may throw for bad input (subclasses count). */
  allowedErrors: ErrorClass[];
  /** Throws (e.g. with assert) when a parsed result is wrong for its input. */
  check?: (result: T, input: Uint8Array) => void;
  /** Cases per run when DCGAN_FUZZ_ITERATIONS is not set (default 1000). */
  iterations?: number;
  /** Longest a single case may run (default 2000 ms). */
  timeBoxMs?: number;
  /** Most a single case may grow heap + array buffers (default 64 MiB). */
  maxHeapGrowthBytes?: number;
  /** Random seed when DCGAN_FUZZ_SEED is not set (default 1). */
  seed?: number;
  fields?: (seed: Uint8Array) => FuzzField[];
  sections?: (seed: Uint8Array) => Array<[number, number]>;
  mutators?: Mutator[];
}

export interface FuzzFailure {
  case: number;
  kind: 'crash' | 'hang' | 'allocation' | 'bad-message' | 'wrong-result';
  detail: string;
  mutations: string;
  /** Where the input was saved. */
  file: string;
}

export interface FuzzReport {
  name: string;
  seed: number;
  cases: number;
  parsed: number;
  rejected: number;
  /** Rejections per error class name. */
  errors: Record<string, number>;
  /** The first few distinct rejection messages (to see what the cases exercise). */
  messages: string[];
  failures: FuzzFailure[];
  seconds: number;
  /** Largest heap + array-buffer growth of one case, in bytes. */
  maxGrowth: number;
  /** Longest time of one case, in milliseconds. */
  slowestMs: number;
  /** The one-line summary printed for the run. */
  line: string;
}

export function fuzzRandom(seed: number): FuzzRandom {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = (): number => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! };
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Values that break length arithmetic: 0, 1, sign bits, all ones (−1), the file length. */
function interesting(size: number, length: number): bigint[] {
  const max = (1n << BigInt(8 * size)) - 1n;
  const values = [0n, 1n, max, max >> 1n, (max >> 1n) + 1n, BigInt(length), BigInt(length) + 1n, BigInt(Math.max(0, length - 1))];
  if (size >= 4) values.push(0xffffffffn, 0x7fffffffn, 0x80000000n, 0x10000n);
  if (size === 8) values.push(1n << 53n, (1n << 53n) + 1n, 1n << 62n);
  return values.map((v) => v & max);
}

function writeField(bytes: Uint8Array, f: FuzzField, value: bigint): void {
  for (let i = 0; i < f.size; i++) {
    const byte = Number((value >> BigInt(8 * i)) & 0xffn);
    bytes[f.littleEndian ? f.offset + i : f.offset + f.size - 1 - i] = byte;
  }
}

interface Mutated {
  bytes: Uint8Array;
  what: string;
}

function randomSlice(rng: FuzzRandom, length: number): [number, number] {
  const a = rng.int(length + 1);
  const b = Math.min(length, a + 1 + rng.int(Math.max(1, Math.min(256, length - a))));
  return [a, b];
}

function mutateOnce<T>(target: FuzzTarget<T>, input: Uint8Array, seedIndex: number, rng: FuzzRandom, seedFields: FuzzField[][], seedSections: Array<Array<[number, number]>>): Mutated {
  const n = input.length;
  const generic = 9;
  const custom = target.mutators ?? [];
  const choice = rng.int(generic + custom.length);
  switch (choice) {
    case 0: {
      // Truncation, often inside the header.
      const at = rng.next() < 0.5 ? rng.int(Math.min(n, 64) + 1) : rng.int(n + 1);
      return { bytes: input.slice(0, at), what: `truncate@${at}` };
    }
    case 1: {
      const out = input.slice();
      const flips = 1 + rng.int(4);
      for (let i = 0; i < flips && n > 0; i++) {
        const at = rng.next() < 0.3 ? rng.int(Math.min(n, 128)) : rng.int(n);
        out[at]! ^= 1 << rng.int(8);
      }
      return { bytes: out, what: `bitflip×${flips}` };
    }
    case 2: {
      const out = input.slice();
      const [a, b] = randomSlice(rng, n);
      const value = rng.pick([0x00, 0xff, rng.int(256)]);
      out.fill(value, a, b);
      return { bytes: out, what: `run(${value})@${a}..${b}` };
    }
    case 3: {
      const at = rng.int(n + 1);
      const extra = new Uint8Array(1 + rng.int(16)).map(() => rng.int(256));
      return { bytes: concat(input.subarray(0, at), extra, input.subarray(at)), what: `insert${extra.length}@${at}` };
    }
    case 4: {
      const [a, b] = randomSlice(rng, n);
      return { bytes: concat(input.subarray(0, a), input.subarray(b)), what: `delete@${a}..${b}` };
    }
    case 5:
    case 6: {
      // A numeric field set to an interesting value.
      const known = seedFields[seedIndex] ?? [];
      const out = input.slice();
      let field: FuzzField;
      if (known.length > 0 && choice === 5) field = rng.pick(known);
      else {
        const size = rng.pick([1, 2, 4, 4, 8] as const);
        field = { offset: rng.next() < 0.6 ? rng.int(Math.max(1, Math.min(n, 64) - size + 1)) : rng.int(Math.max(1, n - size + 1)), size, littleEndian: rng.next() < 0.5 };
      }
      if (field.offset + field.size > out.length) return { bytes: out, what: 'field(out of range)' };
      const value = rng.pick(interesting(field.size, n));
      writeField(out, field, value);
      return { bytes: out, what: `field@${field.offset}/${field.size}${field.littleEndian ? 'le' : 'be'}=${value}` };
    }
    case 7: {
      // Duplicate or remove a section.
      const known = seedSections[seedIndex] ?? [];
      const [a, b] = known.length > 0 && rng.next() < 0.8 ? rng.pick(known) : randomSlice(rng, n);
      if (b > n) return { bytes: input, what: 'section(stale)' };
      if (rng.next() < 0.7) {
        const at = rng.next() < 0.5 ? b : rng.int(n + 1);
        return { bytes: concat(input.subarray(0, at), input.subarray(a, b), input.subarray(at)), what: `dup ${a}..${b}@${at}` };
      }
      return { bytes: concat(input.subarray(0, a), input.subarray(b)), what: `remove ${a}..${b}` };
    }
    case 8: {
      // Swap two sections (reorder), or splice another seed in.
      const known = (seedSections[seedIndex] ?? []).filter(([, b]) => b <= n);
      if (known.length >= 2 && rng.next() < 0.7) {
        let i = rng.int(known.length);
        let j = rng.int(known.length);
        if (i === j) j = (j + 1) % known.length;
        if (i > j) [i, j] = [j, i];
        const [a0, a1] = known[i]!;
        const [b0, b1] = known[j]!;
        if (a1 <= b0) {
          return { bytes: concat(input.subarray(0, a0), input.subarray(b0, b1), input.subarray(a1, b0), input.subarray(a0, a1), input.subarray(b1)), what: `swap ${a0}..${a1} ${b0}..${b1}` };
        }
      }
      const other = rng.pick(target.seeds);
      const at = rng.int(n + 1);
      const from = rng.int(other.length + 1);
      return { bytes: concat(input.subarray(0, at), other.subarray(from)), what: `splice@${at}<-${from}` };
    }
    default: {
      const k = choice - generic;
      const bytes = custom[k]!(input.slice(), rng);
      return { bytes: Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes), what: `custom${k}` };
    }
  }
}

/** Case c: the seeds first, then a random seed with 1–3 mutations (one in 60% of cases). */
function caseMaker<T>(target: FuzzTarget<T>, rng: FuzzRandom): (c: number) => { bytes: Uint8Array; mutations: string } {
  const seedFields = target.seeds.map((s) => target.fields?.(s) ?? []);
  const seedSections = target.seeds.map((s) => target.sections?.(s) ?? []);
  return (c) => {
    if (c < target.seeds.length) return { bytes: target.seeds[c]!, mutations: `seed ${c}` };
    const seedIndex = rng.int(target.seeds.length);
    let bytes = target.seeds[seedIndex]!;
    const steps: string[] = [`seed ${seedIndex}`];
    const r = rng.next();
    const count = r < 0.6 ? 1 : r < 0.85 ? 2 : 3;
    for (let m = 0; m < count; m++) {
      // Field and section positions refer to the seed; after a first mutation they may be stale, which is just another mutation.
      const next = mutateOnce(target, bytes, seedIndex, rng, seedFields, seedSections);
      bytes = next.bytes;
      steps.push(next.what);
    }
    return { bytes, mutations: steps.join(', ') };
  };
}

/**
 * `count` mutated inputs (no seeds) as fuzzParser would make them, for tests that push inputs
 * through a slower, asynchronous path (e.g. a whole folder of them through openImageFolder).
 */
export function mutatedInputs(target: Pick<FuzzTarget<unknown>, 'name' | 'seeds' | 'fields' | 'sections' | 'mutators'>, count: number, seed = 1): Uint8Array[] {
  const full: FuzzTarget<unknown> = { ...target, seeds: target.seeds.map((s) => new Uint8Array(s)), parse: () => undefined, allowedErrors: [] };
  const make = caseMaker(full, fuzzRandom(seed ^ hashName(`${target.name}/inputs`)));
  return Array.from({ length: count }, (_, i) => make(full.seeds.length + i).bytes);
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

function footprint(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

/** Runs the cases and returns the report; never throws for a bad outcome (see fuzzTest). */
export function fuzzParser<T>(target: FuzzTarget<T>): FuzzReport {
  const seed = envInt('DCGAN_FUZZ_SEED') ?? target.seed ?? 1;
  const cases = envInt('DCGAN_FUZZ_ITERATIONS') ?? target.iterations ?? 1000;
  const timeBoxMs = target.timeBoxMs ?? 2000;
  const maxGrowthAllowed = target.maxHeapGrowthBytes ?? 64 << 20;
  const saveDir = process.env['DCGAN_FUZZ_SAVE'] || join(tmpdir(), 'dcgan-fuzz-failures');
  if (target.seeds.length === 0) throw new Error(`fuzz ${target.name}: no seeds`);
  // Plain copies: Buffer.slice() is a view, so mutating a Buffer seed's "copy" would change the seed.
  target = { ...target, seeds: target.seeds.map((s) => new Uint8Array(s)) };
  const rng = fuzzRandom(seed ^ hashName(target.name));
  const context = vm.createContext({ run: (): void => undefined });
  const script = new vm.Script('run()');
  const report: FuzzReport = { name: target.name, seed, cases: 0, parsed: 0, rejected: 0, errors: {}, messages: [], failures: [], seconds: 0, maxGrowth: 0, slowestMs: 0, line: '' };
  const started = performance.now();

  const makeCase = caseMaker(target, rng);
  for (let c = 0; c < cases; c++) {
    const { bytes: input, mutations } = makeCase(c);
    const fail = (kind: FuzzFailure['kind'], detail: string): void => {
      let file: string;
      try {
        mkdirSync(saveDir, { recursive: true });
        file = join(saveDir, `${target.name}-seed${seed}-case${c}.bin`);
        writeFileSync(file, input);
      } catch {
        file = '(not saved)';
      }
      report.failures.push({ case: c, kind, detail, mutations, file });
    };

    const before = footprint();
    const t0 = performance.now();
    let result: { value: T } | undefined;
    let error: unknown;
    let threw = false;
    const caseInput = input;
    context['run'] = (): void => {
      result = { value: target.parse(caseInput) };
    };
    try {
      script.runInContext(context, { timeout: timeBoxMs });
    } catch (e) {
      threw = true;
      error = e;
    }
    const elapsed = performance.now() - t0;
    const growth = footprint() - before;
    report.maxGrowth = Math.max(report.maxGrowth, growth);
    report.slowestMs = Math.max(report.slowestMs, elapsed);
    report.cases++;

    if (threw && (error as NodeJS.ErrnoException)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      fail('hang', `still running after ${timeBoxMs} ms`);
      continue;
    }
    if (growth > maxGrowthAllowed) {
      fail('allocation', `heap + array buffers grew by ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${(maxGrowthAllowed / 2 ** 20).toFixed(0)} MiB)`);
      continue;
    }
    if (elapsed > timeBoxMs) {
      fail('hang', `took ${elapsed.toFixed(0)} ms (time box ${timeBoxMs} ms)`);
      continue;
    }
    if (threw) {
      const allowed = target.allowedErrors.some((cls) => error instanceof cls);
      if (!allowed) {
        fail('crash', `${errorName(error)}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
        continue;
      }
      const message = (error as Error).message;
      if (message.trim() === '' || message.includes('\n') || message.length > 500) {
        fail('bad-message', `${errorName(error)} with a message of ${message.length} characters${message.includes('\n') ? ' over several lines' : ''}: ${JSON.stringify(message.slice(0, 200))}`);
        continue;
      }
      report.rejected++;
      if (report.messages.length < 20 && !report.messages.includes(message)) report.messages.push(message);
      const name = errorName(error);
      report.errors[name] = (report.errors[name] ?? 0) + 1;
      continue;
    }
    try {
      target.check?.(result!.value, input);
      report.parsed++;
    } catch (e) {
      fail('wrong-result', e instanceof Error ? e.message.slice(0, 300) : String(e));
    }
  }
  report.seconds = (performance.now() - started) / 1000;
  const errors = Object.entries(report.errors)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  report.line =
    `fuzz ${target.name}: ${report.cases} cases (seed ${seed}, ${report.seconds.toFixed(1)} s): ` +
    `${report.parsed} parsed, ${report.rejected} rejected${errors ? ` (${errors})` : ''}, ${report.failures.length} failures` +
    `; slowest case ${report.slowestMs.toFixed(0)} ms, largest heap growth of one case ${(report.maxGrowth / 2 ** 20).toFixed(1)} MiB`;
  return report;
}

/** Declares a test that fuzzes `target`, prints its summary line and fails on any bad outcome. */
export function fuzzTest<T>(target: FuzzTarget<T>): void {
  test(`fuzz ${target.name}: every mutated input parses or fails with ${target.allowedErrors.map((e) => e.name).join(' / ')}`, () => {
    const report = fuzzParser(target);
    console.log(report.line);
    const shown = report.failures.slice(0, 10).map((f) => `  case ${f.case} [${f.kind}] ${f.detail} — ${f.mutations} — ${f.file}`);
    assert.equal(report.failures.length, 0, `${report.line}\n${shown.join('\n')}`);
  });
}
