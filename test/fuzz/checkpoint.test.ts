/**
 * Fuzzing the checkpoint reader (parseCheckpoint: the safetensors container plus every metadata
 * field, the convolutions' timed choices among them, and the tensors' names and dtypes): see harness.ts.
 */
import assert from 'node:assert/strict';
import '../../src/index.js';
import { openDataset } from '../../src/data/index.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { CheckpointError, checkpointEntries, GanTrainer, parseCheckpoint, resolveTrainConfig } from '../../src/train/index.js';
import { fuzzTest } from './harness.js';

const config = resolveTrainConfig({ imageSize: 16, channels: 1, nz: 4, ngf: 2, ndf: 2, batchSize: 2, steps: 1, sampleEvery: 0, checkpointEvery: 0, sampleCount: 2 });
const trainer = await GanTrainer.create(config, { dataset: await openDataset('shapes', { imageSize: 16, channels: 1, length: 4 }) });
const { tensors, metadata } = checkpointEntries(trainer.checkpointState());
const choice = {
  backend: 'native', threads: 2, pass: 'convolve', withWeightGrad: true, k: 4, algorithm: 'gemm', variant: 0, directMs: 1.5, gemmMs: 1.2,
  geometry: { n: 2, c: 2, h: 8, w: 8, kh: 4, kw: 4, strideH: 2, strideW: 2, padH: 1, padW: 1, outH: 4, outW: 4 },
};
const seeds = [encodeSafetensors(tensors, metadata), encodeSafetensors(tensors, { ...metadata, convolutions: JSON.stringify([choice]) })];
trainer.dispose();

fuzzTest({
  name: 'checkpoint',
  seeds,
  parse: (bytes) => parseCheckpoint(bytes, 'fuzz.safetensors'),
  allowedErrors: [CheckpointError],
  check: (checkpoint) => {
    assert.ok(checkpoint.step >= 0 && Number.isSafeInteger(checkpoint.step));
    for (const c of checkpoint.convolutions) assert.ok(c.algorithm === 'direct' || c.algorithm === 'gemm');
  },
  iterations: 300,
});
