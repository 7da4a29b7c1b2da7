/** Option parsers and engine setup shared by the train, sample and interpolate commands. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as kernels from '../kernels/index.js';
import { CheckpointError, loadCheckpoint, type LoadedCheckpoint } from '../train/checkpoint.js';
import type { Command } from 'commander';
import { intOption, UsageError } from './errors.js';

/** A finite number option; `check` states the allowed range in the error. */
export function numberOption(flag: string, check: (v: number) => boolean, range: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`${flag} must be ${range}, got '${value}'`);
    return n;
  };
}

export function choiceOption<T extends string | number>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    const found = choices.find((c) => String(c) === value);
    if (found === undefined) throw new UsageError(`${flag} must be ${choices.map(String).join(' or ')}, got '${value}'`);
    return found;
  };
}

/** Adds --backend and --threads, which every command that computes takes (read by setupEngine). */
export function engineOptions(command: Command): Command {
  return command
    .option('--backend <name>', 'compute backend (default: the fastest available)')
    .option('--threads <n>', 'worker threads for backends with a thread pool (default: every core)', intOption('--threads', 1));
}

export interface Engine {
  backend: string;
  threads: number;
  /** One line for people: "native: OpenBLAS 0.3.21 (…), 2 threads". */
  summary: string;
  /** Set when a faster backend could not start here: why, and how to get it. */
  hint: string | null;
}

/** Selects the backend and thread count asked for (threads only where the engine has a pool). */
export function setupEngine(backend: string | undefined, threads: number | undefined): Engine {
  if (backend !== undefined) {
    if (!kernels.listBackends().includes(backend)) {
      throw new UsageError(`--backend must be one of ${kernels.listBackends().join(', ')}, got '${backend}'`);
    }
    try {
      kernels.setBackend(backend);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  if (threads !== undefined) kernels.setThreads(threads);
  const current = kernels.getBackend();
  const count = kernels.getThreads();
  const summary = `${current.name}${current.description ? `: ${current.description}` : ''}, ${count} thread${count > 1 ? 's' : ''}`;
  // Only when we chose: a user who asked for a backend knows what they get.
  let hint: string | null = null;
  if (backend === undefined) {
    const faster = kernels.listBackends().slice(0, kernels.listBackends().indexOf(current.name));
    const failed = faster.map((name) => [name, kernels.backendFailure(name)] as const).find(([, reason]) => reason !== undefined);
    if (failed !== undefined) hint = `the faster ${failed[0]} backend is not available: ${failed[1]}`;
  }
  return { backend: current.name, threads: count, summary, hint };
}

/** A checkpoint file, or a run folder holding checkpoint.safetensors. */
export function checkpointPath(pathOrDir: string): string {
  if (existsSync(pathOrDir) && statSync(pathOrDir).isDirectory()) {
    const inside = join(pathOrDir, 'checkpoint.safetensors');
    if (!existsSync(inside)) throw new UsageError(`no checkpoint in ${pathOrDir} (expected ${inside})`);
    return inside;
  }
  return pathOrDir;
}

/** loadCheckpoint with its errors as one-line usage errors. */
export function openCheckpoint(pathOrDir: string): LoadedCheckpoint {
  try {
    return loadCheckpoint(checkpointPath(pathOrDir));
  } catch (error) {
    if (error instanceof CheckpointError) throw new UsageError(error.message);
    throw error;
  }
}
