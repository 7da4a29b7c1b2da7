/**
 * The file that keeps the convolutions' timed algorithms between runs (ops/conv.ts,
 * ConvolutionChoiceStore): `<cacheDir()>/convolution-choices.json`, one list per machine —
 * the CPU and the backend as it describes itself (BLAS, oneDNN and their versions) — so a
 * cache folder shared by several machines keeps each one's own. It is a cache: a missing,
 * unreadable or malformed file reads as empty, and a failed write costs only the next run's
 * timing (one warning).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { cacheDir } from '../data/cache-dir.js';
import { getBackend } from '../kernels/registry.js';
import { convolutionChoiceKey, parseConvolutionChoice, type ConvolutionChoice, type ConvolutionChoiceStore } from '../ops/conv-algorithm.js';
import { writeFileAtomic } from './atomic.js';

/** 2: the direct variants timed in turns (ops/conv-algorithm.ts, fastestDirect). Choices timed one
    after another (version 1) may be a drift of the machine's speed, so they are timed again. */
export const CONVOLUTION_CHOICES_FILE_VERSION = 2;

/** This machine and backend, as the file files its choices. */
export function machineFingerprint(): string {
  const backend = getBackend();
  return `${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length} | ${backend.name}: ${backend.description ?? ''}`;
}

/** The file's lists by machine; anything malformed reads as none (entries one by one: a bad one drops alone). */
export function parseConvolutionChoicesFile(text: string): Map<string, ConvolutionChoice[]> {
  const machines = new Map<string, ConvolutionChoice[]>();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return machines;
  }
  if (value === null || typeof value !== 'object' || (value as Record<string, unknown>)['version'] !== CONVOLUTION_CHOICES_FILE_VERSION) return machines;
  const lists = (value as Record<string, unknown>)['machines'];
  if (lists === null || typeof lists !== 'object' || Array.isArray(lists)) return machines;
  for (const [machine, list] of Object.entries(lists as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    machines.set(machine, list.map(parseConvolutionChoice).filter((c): c is ConvolutionChoice => c !== null));
  }
  return machines;
}

/** A store on `file` (default `<cacheDir()>/convolution-choices.json`, the cache folder as it is at each use). */
export function convolutionChoicesFile(file?: string): ConvolutionChoiceStore {
  let warned = false;
  const where = (): string => file ?? join(cacheDir(), 'convolution-choices.json');
  const read = (): Map<string, ConvolutionChoice[]> => {
    const path = where();
    try {
      return existsSync(path) ? parseConvolutionChoicesFile(readFileSync(path, 'utf8')) : new Map();
    } catch {
      return new Map();
    }
  };
  return {
    load: () => read().get(machineFingerprint()) ?? [],
    save(choices) {
      // Read again just before writing: another run may have added choices since this one loaded.
      const machines = read();
      const machine = machineFingerprint();
      const list = machines.get(machine) ?? [];
      const path = where();
      const held = new Set(list.map(convolutionChoiceKey));
      const added = choices.filter((c) => !held.has(convolutionChoiceKey(c)));
      if (added.length === 0) return;
      machines.set(machine, [...list, ...added]);
      try {
        mkdirSync(dirname(path), { recursive: true });
        const text = `${JSON.stringify({ version: CONVOLUTION_CHOICES_FILE_VERSION, machines: Object.fromEntries(machines) }, null, 1)}\n`;
        writeFileAtomic(path, new TextEncoder().encode(text));
      } catch (error) {
        if (!warned) console.warn(`dcgan-ts: could not keep the timed convolution choices in ${path} (${error instanceof Error ? error.message : String(error)}); the next run times them again`);
        warned = true;
      }
    },
  };
}
