/** The one `dcgan export` (PyTorch and ONNX) and `sample` / `interpolate` straight from a PyTorch .pth. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';

const entry = fileURLToPath(new URL('./dcgan-from-source.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const g32 = fileURLToPath(new URL('./golden/fixtures/torch/g32.pth', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'dcgan-interchange-'));
after(() => rmSync(work, { recursive: true, force: true }));

function dcgan(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, entry, ...args, ...(args[0] === 'export' ? [] : ['--threads', '1'])], { encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sample and interpolate read a PyTorch netG.pth directly (its config inferred from the shapes)', () => {
  const grid = join(work, 'from-pth.png');
  const r = dcgan(['sample', '--checkpoint', g32, '--n', '4', '--seed', '3', '--out', grid, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { imageSize: number; channels: number; step: number | null; weights: string };
  assert.deepEqual([summary.imageSize, summary.channels, summary.step, summary.weights], [32, 1, null, 'raw']);
  assert.equal(PNG.sync.read(readFileSync(grid)).width, 2 + 4 * (32 + 2));
  const walk = dcgan(['interpolate', '--checkpoint', g32, '--steps', '3', '--rows', '1', '--seed', '1', '--out', join(work, 'walk.png')]);
  assert.equal(walk.status, 0, walk.stderr);
});

test('dcgan export --format onnx writes the generator; --format pytorch refuses the ONNX-only flags', () => {
  const onnx = join(work, 'g.onnx');
  const r = dcgan(['export', '--checkpoint', g32, '--format', 'onnx', '--out', onnx, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { network: string; weights: string; input: string; opset: number };
  assert.deepEqual([summary.network, summary.weights, summary.opset], ['generator', 'raw', 17]);
  assert.ok(existsSync(onnx));
  const bad = dcgan(['export', '--checkpoint', g32, '--format', 'pytorch', '--out', join(work, 'x.pth'), '--torch-fidelity']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^dcgan: --discriminator and --torch-fidelity are for --format onnx\n$/);
});
