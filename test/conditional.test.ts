/** Class-conditional DCGANs: G and D take labels; the trainer feeds them; checkpoints rebuild them. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { noGrad, randn, tidy } from '../src/index.js';
import { openDataset, type ImageDataset } from '../src/data/index.js';
import { DcganDiscriminator, DcganGenerator, resolveDcganConfig } from '../src/models/index.js';
import { loadCheckpoint, loadSamplingGenerator, resolveTrainConfig, runTraining } from '../src/train/index.js';

const root = mkdtempSync(join(tmpdir(), 'dcgan-cond-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Shapes with a made-up label (i mod 3), so the test does not depend on a data set's own labels. */
async function labelled(length: number): Promise<ImageDataset> {
  const base = await openDataset('shapes', { imageSize: 16, channels: 1, length });
  return { name: 'labelled shapes', length: base.length, channels: base.channels, imageSize: base.imageSize, read: (i, out, o) => base.read(i, out, o), classes: ['a', 'b', 'c'], label: (i) => i % 3 };
}

describe('class-conditional DCGAN', () => {
  const model = resolveDcganConfig({ imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, numClasses: 3 });

  it('G adds a label projection (label.weight) and D a class embedding (embed.weight); labels change the output', () => {
    tidy(() => {
      const g = new DcganGenerator(model, { seed: 1 });
      const d = new DcganDiscriminator(model, { seed: 2 });
      assert.deepEqual(g.stateDict()['label.weight']!.shape, [3, 4 * 2, 4, 4]);
      assert.deepEqual(d.stateDict()['embed.weight']!.shape, [4 * 2, 3]);
      g.eval();
      const z = randn([2, 8, 1, 1]);
      noGrad(() => {
        const a = g.forward(z, [0, 0]).toFloat32Array();
        const b = g.forward(z, [0, 2]).toFloat32Array();
        const half = a.length / 2;
        assert.deepEqual(a.subarray(0, half), b.subarray(0, half), 'same z and label, same image');
        assert.notDeepEqual(a.subarray(half), b.subarray(half), 'another label, another image');
        const images = g.forward(z, [1, 2]);
        assert.deepEqual(d.forward(images, [1, 2]).shape, [2]);
      });
      assert.throws(() => g.forward(z), /class-conditional \(3 classes\); pass one label per image/);
      assert.throws(() => g.forward(z, [0, 3]), /class label 3 is outside 0\.\.2/);
      assert.throws(() => new DcganGenerator(resolveDcganConfig({ ...model, numClasses: 0 })).forward(z, [0, 1]), /unconditional; it takes no class labels/);
    });
  });

  it('D is trainable through its projection term (a gradient reaches embed.weight)', () => {
    tidy(() => {
      const d = new DcganDiscriminator(model, { seed: 3 });
      const logits = d.forward(randn([4, 1, 16, 16]), [0, 1, 2, 0]);
      logits.sum().backward();
      const grad = d.embed!.weight.grad!;
      assert.ok(grad.toArray().some((v) => v !== 0));
    });
  });

  it('trains on labels, records the classes in the checkpoint, and rebuilds the conditional G from it', async () => {
    const config = resolveTrainConfig({ imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, batchSize: 4, steps: 3, sampleEvery: 0, checkpointEvery: 0, sampleCount: 6, conditional: true });
    const out = join(root, 'run');
    await runTraining({ config, outDir: out, dataset: await labelled(12) });
    const checkpoint = loadCheckpoint(join(out, 'checkpoint.safetensors'));
    assert.equal(checkpoint.model.numClasses, 3);
    assert.deepEqual(checkpoint.config['classes'], ['a', 'b', 'c']);
    const g = new DcganGenerator(checkpoint.model);
    loadSamplingGenerator(checkpoint, g);
    assert.ok(g.label !== null);
  });

  it('--conditional on data without labels is a clear error', async () => {
    const config = resolveTrainConfig({ imageSize: 16, channels: 1, nz: 8, ngf: 4, ndf: 4, batchSize: 4, steps: 1, sampleEvery: 0, checkpointEvery: 0, conditional: true });
    const plain = await openDataset('shapes', { imageSize: 16, channels: 1, length: 8 });
    const unlabelled: ImageDataset = { name: 'plain', length: plain.length, channels: 1, imageSize: 16, read: (i, o, k) => plain.read(i, o, k) };
    await assert.rejects(runTraining({ config, outDir: join(root, 'nolabels'), dataset: unlabelled }), /--conditional needs class labels, and the data set plain has none/);
  });
});
