/** `dcgan train --serve`: the run's dashboard is served while it trains, and the server stops with it. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const entry = fileURLToPath(new URL('./dcgan-from-source.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const work = mkdtempSync(join(tmpdir(), 'dcgan-serve-train-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('train --serve prints the dashboard URL, answers /api/run during training, and stops serving at the end', async () => {
  const out = join(work, 'run');
  const args = ['train', '--image-size', '16', '--ngf', '8', '--ndf', '8', '--nz', '16', '--batch-size', '4', '--threads', '1', '--steps', '400', '--log-every', '1', '--json', '--serve', '--port', '0', '--out', out];
  const child = spawn(process.execPath, ['--import', tsx, entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)#dashboard/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`exited before serving: ${stderr}`)));
  });
  // Wait for a few steps, then read the live state.
  while (!stdout.includes('"step"')) await new Promise((r) => setTimeout(r, 100));
  const state = (await (await fetch(new URL('api/run', url))).json()) as { config: { imageSize: number } | null; metrics: unknown[] };
  assert.equal(state.config?.imageSize, 16);
  assert.ok(Array.isArray(state.metrics));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130);
  await assert.rejects(fetch(new URL('api/run', url)), 'the server is closed with the run');
});
