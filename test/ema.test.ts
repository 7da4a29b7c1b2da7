/** The generator average (--ema): updated after every G step, checkpointed, resumed exactly, used for samples. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../src/index.js';
import { openDataset } from '../src/data/index.js';
import { decodeSafetensors } from '../src/io/index.js';
import { DcganGenerator } from '../src/models/index.js';
import { emaDecay, loadCheckpoint, loadSamplingGenerator, resolveTrainConfig, runTraining, TrainConfigError } from '../src/train/index.js';

const root = mkdtempSync(join(tmpdir(), 'dcgan-ema-'));
after(() => rmSync(root, { recursive: true, force: true }));
const config = resolveTrainConfig({ imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, batchSize: 4, steps: 6, sampleEvery: 0, checkpointEvery: 0, sampleCount: 4, ema: 0.9 });
const data = () => openDataset('shapes', { imageSize: 16, channels: 1, length: 12 });

describe('the generator average', () => {
  it('warms up: β is min(β, (1 + t)/(10 + t))', () => {
    assert.equal(emaDecay(0.999, 0), 0.1);
    assert.equal(emaDecay(0.999, 10), 11 / 20);
    assert.equal(emaDecay(0.9, 1000), 0.9);
    assert.throws(() => resolveTrainConfig({ ema: 1 }), (e: unknown) => e instanceof TrainConfigError && /ema must be in \[0, 1\), got 1/.test(e.message));
  });

  it('is checkpointed as netG_ema.*, resumes bitwise, and is what sampling uses unless raw weights are asked for', async () => {
    const straight = join(root, 'straight');
    const split = join(root, 'split');
    await runTraining({ config, outDir: straight, dataset: await data() });
    await runTraining({ config: { ...config, steps: 3 }, outDir: split, dataset: await data() });
    await runTraining({ config, outDir: split, dataset: await data(), resume: loadCheckpoint(join(split, 'checkpoint.safetensors')) });
    const a = decodeSafetensors(readFileSync(join(straight, 'checkpoint.safetensors')));
    const b = decodeSafetensors(readFileSync(join(split, 'checkpoint.safetensors')));
    const averaged = [...a.tensors.keys()].filter((k) => k.startsWith('netG_ema.'));
    assert.equal(averaged.length, [...a.tensors.keys()].filter((k) => k.startsWith('netG.')).length);
    for (const name of averaged) assert.deepEqual(b.tensors.get(name)!.data, a.tensors.get(name)!.data, name);
    // The average differs from the raw weights, and lies between the start and the end.
    const raw = a.tensors.get('netG.main.0.weight')!.data;
    const avg = a.tensors.get('netG_ema.main.0.weight')!.data;
    assert.ok(raw.some((v, i) => v !== avg[i]));
    // Its BatchNorm statistics are its own, recomputed over 1024 noise images for its weights, not G's.
    const meanKey = averaged.find((k) => k.endsWith('.running_mean'))!;
    assert.notDeepEqual(a.tensors.get(meanKey)!.data, a.tensors.get(meanKey.replace('netG_ema.', 'netG.'))!.data);
    assert.equal(a.tensors.get(meanKey.replace('running_mean', 'num_batches_tracked'))!.data[0], 1024 / config.batchSize);

    const checkpoint = loadCheckpoint(join(straight, 'checkpoint.safetensors'));
    const g = new DcganGenerator(checkpoint.model);
    assert.equal(loadSamplingGenerator(checkpoint, g), 'average');
    assert.deepEqual(g.stateDict()['main.0.weight']!.data, avg);
    assert.equal(loadSamplingGenerator(checkpoint, g, { raw: true }), 'raw');
    assert.deepEqual(g.stateDict()['main.0.weight']!.data, raw);
  });

  it('a run without --ema cannot resume a checkpoint that has an average (and the reverse)', async () => {
    const dir = join(root, 'mismatch');
    await runTraining({ config: { ...config, steps: 2 }, outDir: dir, dataset: await data() });
    await assert.rejects(
      runTraining({ config: { ...config, ema: 0, steps: 4 }, outDir: dir, dataset: await data(), resume: loadCheckpoint(join(dir, 'checkpoint.safetensors')) }),
      /holds a generator average \(netG_ema\.\*\) but the run keeps none/,
    );
  });
});

describe('--eval-every', () => {
  it('adds local FID and the other quality numbers to the metrics lines of the measured steps, and a quality plot to the report, without changing the training', async () => {
    const { loadFeatureExtractor } = await import('../src/eval/extractor.js');
    const cache = join(root, 'cache');
    const previous = process.env['DCGAN_CACHE_DIR'];
    process.env['DCGAN_CACHE_DIR'] = cache;
    try {
      // A briefly trained shapes classifier in the cache stands in for the real one (trained on first use).
      await loadFeatureExtractor('shapes', { imageSize: 16, channels: 1, cacheDir: cache, training: { epochs: 1, maxImages: 600, batchSize: 32 } });
      const base = resolveTrainConfig({ ...config, ema: 0, steps: 4 });
      const plain = join(root, 'plain');
      const measured = join(root, 'measured');
      await runTraining({ config: base, outDir: plain, dataset: await data() });
      await runTraining({ config: { ...base, evalEvery: 2, evalSamples: 40 }, outDir: measured, dataset: await data() });
      const lines = readFileSync(join(measured, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines.map((l) => typeof l['fid_local'] === 'number'), [false, true, false, true]);
      assert.match(String(lines[1]!['feature_extractor']), /^shapes-16x1-cnn-/);
      assert.match(readFileSync(join(measured, 'report.html'), 'utf8'), /Sample quality/);
      const a = decodeSafetensors(readFileSync(join(plain, 'checkpoint.safetensors')));
      const b = decodeSafetensors(readFileSync(join(measured, 'checkpoint.safetensors')));
      assert.deepEqual(b.tensors.get('netG.main.0.weight')!.data, a.tensors.get('netG.main.0.weight')!.data, 'measuring does not change the trajectory');
    } finally {
      if (previous === undefined) delete process.env['DCGAN_CACHE_DIR'];
      else process.env['DCGAN_CACHE_DIR'] = previous;
    }
  });
});
