/** Checkpoint validation: the whole training state is checked before anything runs, every problem named in one line. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../src/index.js';
import { openDataset } from '../src/data/index.js';
import { decodeSafetensors, encodeSafetensors, type TensorToWrite } from '../src/io/index.js';
import { clearConvolutionChoices, convolutionChoices } from '../src/ops/conv-algorithm.js';
import { CheckpointError, GanTrainer, loadCheckpoint, resolveTrainConfig, runTraining, type TrainConfig } from '../src/train/index.js';

const root = mkdtempSync(join(tmpdir(), 'dcgan-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const config: TrainConfig = resolveTrainConfig({ imageSize: 16, channels: 3, nz: 8, ngf: 4, ndf: 4, batchSize: 4, steps: 2, sampleEvery: 0, checkpointEvery: 0, sampleCount: 4 });
let good = '';
let runDir = '';

before(async () => {
  runDir = join(root, 'run');
  const dataset = await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 });
  await runTraining({ config, outDir: runDir, dataset });
  good = join(runDir, 'checkpoint.safetensors');
});

/** A copy of the good checkpoint with its tensors and metadata edited. */
function tampered(name: string, edit: (tensors: Map<string, TensorToWrite>, metadata: Record<string, string>) => void): string {
  const file = decodeSafetensors(readFileSync(good));
  const tensors = new Map<string, TensorToWrite>([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data, dtype: t.dtype === 'I64' ? 'I64' : 'F32' }]));
  const metadata = { ...file.metadata };
  edit(tensors, metadata);
  const path = join(root, `${name}.safetensors`);
  writeFileSync(path, encodeSafetensors([...tensors], metadata));
  return path;
}

function rejects(path: string, ...patterns: RegExp[]): void {
  assert.throws(() => loadCheckpoint(path), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.ok(!e.message.includes('\n'), 'one line');
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('checkpoint validation', () => {
  it('a missing optimizer tensor is named at load, before any training', () => {
    rejects(tampered('no-adam', (t) => t.delete('optG.state.1.exp_avg_sq')), /tensor 'optG\.state\.1\.exp_avg_sq' is missing/);
  });

  it('metadata of the wrong type or range is refused: a step of 2.5, a negative epoch, a loader of strings', () => {
    rejects(tampered('step', (_, m) => (m['step'] = '2.5')), /'step' is "2\.5", not a non-negative integer/);
    rejects(
      tampered('several', (_, m) => {
        m['epoch'] = '-1';
        m['loader'] = JSON.stringify({ epoch: '0', batchIndex: 0, seed: 0 });
      }),
      /'epoch' is "-1"/,
      /'loader' is not \{epoch, batchIndex, seed\}/,
    );
    rejects(tampered('opt-step', (_, m) => (m['optD'] = JSON.stringify({ hyper: { lr: 1 }, params: 1, state: [{ step: 1.5 }] }))), /optD state 0 is \{"step":1\.5\}/);
  });

  it('an unexpected tensor, even one named __proto__, is refused, not ignored', async () => {
    const loaded = loadCheckpoint(tampered('proto', (t) => t.set('netG.__proto__', { shape: [1], data: new Float32Array([1]) })));
    await assert.rejects(GanTrainer.create(config, { resume: loaded, dataset: await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 }) }), /netG has unexpected tensors __proto__/);
    rejects(tampered('stray', (t) => t.set('extra.weights', { shape: [1], data: new Float32Array([1]) })), /unexpected tensors \(extra\.weights\)/);
  });

  it('a tensor of the right name but the wrong shape fails restore, listing every mismatch, before anything changes', async () => {
    const path = tampered('shape', (t) => {
      t.set('optD.state.0.exp_avg', { shape: [2], data: new Float32Array(2) });
      t.set('netG.main.1.weight', { shape: [3], data: new Float32Array(3) });
    });
    const loaded = loadCheckpoint(path);
    await assert.rejects(GanTrainer.create(config, { resume: loaded, dataset: await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 }) }), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /netG main\.1\.weight has shape \[3\]/);
      assert.match(e.message, /optD\.state\.0\.exp_avg has shape \[2\]/);
      return true;
    });
  });

  it('non-finite values are refused at load, naming the tensors (sample, interpolate and --resume all load this way)', () => {
    const path = tampered('nan', (t) => {
      t.get('netG.main.0.weight')!.data[5] = Number.NaN;
      t.get('netD.main.0.weight')!.data[0] = Number.POSITIVE_INFINITY;
    });
    rejects(path, /non-finite values in netG\.main\.0\.weight \(NaN at index 5\), netD\.main\.0\.weight \(Infinity at index 0\)/);
  });

  it("the convolutions' timed algorithms travel with the checkpoint: read back, checked, and taken by a resumed run", async () => {
    const choice = {
      backend: 'native', threads: 2, pass: 'convolve', withWeightGrad: true, k: 512, algorithm: 'gemm', variant: 0, directMs: 33.9, gemmMs: 30.2,
      geometry: { n: 64, c: 256, h: 8, w: 8, kh: 4, kw: 4, strideH: 2, strideW: 2, padH: 1, padW: 1, outH: 4, outW: 4 },
    };
    const withChoices = tampered('convolutions', (_, m) => (m['convolutions'] = JSON.stringify([choice])));
    const loaded = loadCheckpoint(withChoices);
    assert.deepEqual(loaded.convolutions, [choice]);
    assert.deepEqual(loadCheckpoint(good).convolutions, [], 'none in a run too small to time');
    clearConvolutionChoices();
    const dataset = await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 });
    const trainer = await GanTrainer.create(config, { resume: loaded, dataset });
    assert.deepEqual(convolutionChoices(), [choice], 'the resumed process uses them');
    assert.deepEqual(trainer.checkpointState().convolutions, [choice], 'and writes them on');
    clearConvolutionChoices();
    rejects(tampered('bad-convolutions', (_, m) => (m['convolutions'] = JSON.stringify([{ ...choice, algorithm: 'fast' }]))), /'convolutions' is not a list of convolution choices/);
    rejects(tampered('bad-geometry', (_, m) => (m['convolutions'] = JSON.stringify([{ ...choice, geometry: { ...choice.geometry, outW: -1 } }]))), /'convolutions' is not a list/);
    rejects(tampered('not-a-list', (_, m) => (m['convolutions'] = '{}')), /'convolutions' is not a list/);
    rejects(tampered('not-json', (_, m) => (m['convolutions'] = '[')), /'convolutions' is not valid JSON/);
  });

  it('resuming copies the tensors into the model and releases them from the loaded checkpoint (no second copy while training)', async () => {
    const dataset = await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 });
    const loaded = loadCheckpoint(good);
    const weight = Array.from(loaded.netG['main.0.weight']!.data);
    const trainer = await GanTrainer.create(config, { resume: loaded, dataset });
    assert.deepEqual(Array.from(trainer.netG.stateDict()['main.0.weight']!.data), weight, 'restored');
    assert.equal(loaded.released, true);
    assert.deepEqual(Object.keys(loaded.netG), []);
    assert.equal(loaded.fixedNoise.data.length, 0);
    assert.equal(loaded.step, 2, 'the metadata stays');
    await assert.rejects(GanTrainer.create(config, { resume: loaded, dataset }), /tensors were released when it was restored; load it again/);
  });

  it('a resumed run removes the temporaries a killed write left behind, and keeps other files', async () => {
    const stale = join(runDir, '.checkpoint.safetensors.999999.abc123.tmp');
    const other = join(runDir, 'notes.txt');
    writeFileSync(stale, 'partial');
    writeFileSync(other, 'mine');
    const dataset = await openDataset('shapes', { imageSize: 16, channels: 3, length: 8 });
    const warnings: string[] = [];
    await runTraining({ config: { ...config, steps: 3 }, outDir: runDir, dataset, resume: loadCheckpoint(good), onWarning: (w) => warnings.push(w) });
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(other), true);
    assert.deepEqual(readdirSync(runDir).filter((n) => n.endsWith('.tmp')), []);
    assert.match(warnings.join('\n'), /removed 1 temporary file/);
  });
});
