/** Fuzzing the PyTorch .pth reader (zip and legacy formats, the restricted unpickler) with the shared harness: see harness.ts. */
import { readFileSync } from 'node:fs';
import { loadTorchStateDict, TorchFormatError } from '../../src/io/torch/index.js';
import { fuzzTest } from './harness.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../golden/fixtures/torch/${name}`, import.meta.url)));

// Small real files written by PyTorch 1.13: zip (stored and deflated), the legacy pickle format, float16.
const seeds = ['g32.pth', 'g32_deflated.pth', 'g32_legacy.pth', 'g32_float16.pth'].map(fixture);

fuzzTest({
  name: 'pth',
  seeds,
  parse: (bytes) => loadTorchStateDict(bytes, 'fuzz.pth'),
  allowedErrors: [TorchFormatError],
  check: (result) => {
    for (const [name, t] of result) {
      if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
  },
  iterations: 400,
});
