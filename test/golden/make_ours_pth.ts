/**
 * Writes test/golden/fixtures/torch/ours_g32.pth with our own .pth writer: a 32×32×1 DCGAN
 * generator (nz 8, ngf 4: the shape of g32.pth) from seed 7, with made-up BatchNorm statistics
 * and counters so every tensor kind is exercised. make_torch_checkpoints.py loads it into
 * PyTorch and saves it again (ours_g32_resaved.pth); test/io-torch.test.ts checks both.
 *
 *   node --import tsx test/golden/make_ours_pth.ts
 */
import { writeFileSync } from 'node:fs';
import '../../src/index.js';
import { fileURLToPath } from 'node:url';
import { saveTorchStateDict } from '../../src/io/torch/index.js';
import { DcganGenerator } from '../../src/models/index.js';
import { Generator } from '../../src/tensor/random.js';
import type { TensorToWrite } from '../../src/io/safetensors.js';

export const OURS_CONFIG = { imageSize: 32, channels: 1, nz: 8, ngf: 4, ndf: 4, projection: 'conv' } as const;

/** The state dict behind ours_g32.pth, deterministic. */
export function oursStateDict(): Array<[string, TensorToWrite]> {
  const net = new DcganGenerator({ ...OURS_CONFIG }, { seed: 7 });
  const rng = new Generator(11);
  const out: Array<[string, TensorToWrite]> = [];
  for (const [name, t] of Object.entries(net.stateDict())) {
    const data = Float32Array.from(t.data);
    if (name.endsWith('running_mean')) rng.fillNormal(data, 0, 0.5);
    if (name.endsWith('running_var')) for (let i = 0; i < data.length; i++) data[i] = 0.5 + (i % 7) * 0.25;
    if (name.endsWith('num_batches_tracked')) data[0] = 5;
    out.push([name, { shape: t.shape, data, dtype: name.endsWith('num_batches_tracked') ? 'I64' : 'F32' }]);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('fixtures/torch/ours_g32.pth', import.meta.url));
  writeFileSync(path, saveTorchStateDict(oursStateDict()));
  console.log(`wrote ${path}`);
}
