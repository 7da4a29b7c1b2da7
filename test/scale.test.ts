/** 256×256 end to end at reduced width: train, checkpoint, resume, sample, interpolate, report. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import { readFileSync } from 'node:fs';
import { openDataset } from '../src/data/index.js';
import { loadCheckpoint, resolveTrainConfig, runTraining } from '../src/train/index.js';

const entry = fileURLToPath(new URL('./dcgan-from-source.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const root = mkdtempSync(join(tmpdir(), 'dcgan-scale-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a 256×256 run trains, checkpoints, resumes, samples and interpolates (narrow widths keep it quick)', { timeout: 180000 }, async () => {
  const config = resolveTrainConfig({ imageSize: 256, channels: 3, nz: 16, ngf: 2, ndf: 2, batchSize: 2, steps: 2, sampleEvery: 0, checkpointEvery: 1, sampleCount: 4, ema: 0.9 });
  const dataset = await openDataset('shapes', { imageSize: 256, channels: 3, length: 6 });
  const out = join(root, 'run');
  const first = await runTraining({ config, outDir: out, dataset });
  assert.equal(first.status, 'completed');
  const checkpoint = loadCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.equal(checkpoint.step, 2);
  const resumed = await runTraining({ config: { ...config, steps: 3 }, outDir: out, dataset, resume: checkpoint });
  assert.equal(resumed.step, 3);
  for (const file of ['final_samples.png', 'report.html', 'loss.png']) assert.ok(existsSync(join(out, file)), file);
  assert.equal(PNG.sync.read(readFileSync(join(out, 'final_samples.png'))).width, 2 + 4 * (256 + 2));
  const run = (args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, ['--import', tsx, entry, ...args, '--threads', '1'], { encoding: 'utf8', timeout: 120000 });
    return { status: r.status, stderr: r.stderr };
  };
  const sample = run(['sample', '--checkpoint', out, '--n', '6', '--batch-size', '2', '--seed', '1', '--out', join(root, 'grid.png')]);
  assert.equal(sample.status, 0, sample.stderr);
  assert.equal(PNG.sync.read(readFileSync(join(root, 'grid.png'))).height, 2 + 1 * (256 + 2));
  const walk = run(['interpolate', '--checkpoint', out, '--steps', '3', '--rows', '1', '--seed', '1', '--out', join(root, 'walk.png')]);
  assert.equal(walk.status, 0, walk.stderr);
});
