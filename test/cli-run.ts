/** Running the `dcgan` command from source in tests, and comparing the checkpoints it writes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '../src/io/index.js';

/** The CLI from the TypeScript sources (no build needed), and the loader that runs it. */
export const CLI_ENTRY = fileURLToPath(new URL('./dcgan-from-source.ts', import.meta.url));
export const TSX = import.meta.resolve('tsx');
/** No debug stack traces, no colours: the messages exactly as users read them. */
export const CLI_ENV = { ...process.env, DCGAN_DEBUG: '', NO_COLOR: '1' };

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dcgan …args` in `cwd` to the end (60 s at most). */
export function runCli(cwd: string, args: readonly string[]): CliRun {
  const result = spawnSync(process.execPath, ['--import', TSX, CLI_ENTRY, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: CLI_ENV });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function nonEmptyLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Bitwise comparison of two checkpoint files: every tensor byte, and the metadata except timing. */
export function assertSameCheckpoint(a: string, b: string): void {
  const fa = decodeSafetensors(readFileSync(a));
  const fb = decodeSafetensors(readFileSync(b));
  assert.deepEqual([...fb.tensors.keys()], [...fa.tensors.keys()]);
  for (const [name, ta] of fa.tensors) {
    const tb = fb.tensors.get(name)!;
    assert.deepEqual(tb.shape, ta.shape, name);
    const ua = new Uint8Array(ta.data.buffer, ta.data.byteOffset, ta.data.byteLength);
    const ub = new Uint8Array(tb.data.buffer, tb.data.byteOffset, tb.data.byteLength);
    assert.equal(ub.length, ua.length, name);
    const i = ua.findIndex((v, k) => v !== ub[k]);
    assert.equal(i, -1, `${name}[${Math.floor(i / 4)}] differs: ${ta.data[Math.floor(i / 4)]} vs ${tb.data[Math.floor(i / 4)]}`);
  }
  const { elapsed_seconds: _a, ...ma } = fa.metadata;
  const { elapsed_seconds: _b, ...mb } = fb.metadata;
  assert.deepEqual(mb, ma);
}
