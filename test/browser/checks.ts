/**
 * What the browser test runs in a page and in a Web Worker: the same conv2d, convTranspose2d
 * and a few DCGAN training steps (BatchNorm, LeakyReLU/ReLU/Tanh, BCE on logits, Adam) on the
 * js backend and on the wasm backend, in one context, and how far apart they are. The test
 * server transpiles this file for the browser; the engine comes in as dist/core.js.
 */
import type * as Core from '../../src/core.js';

export type Dcgan = typeof Core;

export interface Outputs {
  conv2d: Float32Array;
  convTranspose2d: Float32Array;
  losses: number[];
  params: Float32Array[];
}

export interface ContextReport {
  context: 'main thread' | 'worker';
  crossOriginIsolated: boolean;
  backend: string;
  threads: number;
  relaxedSimd: boolean;
  maxDiff: { conv2d: number; convTranspose2d: number; losses: number; params: number };
  sizes: { conv2d: number; convTranspose2d: number; losses: number; params: number };
  ms: { js: number; wasm: number };
}

const STEPS = 3;
const BATCH = 16;
const NZ = 16;

function compute(dcgan: Dcgan): Outputs {
  const { nn, optim, tidy, randn, mul, functional: F } = dcgan;
  dcgan.manualSeed(2024);
  // Large enough that im2col, col2im and the GEMMs pass the thresholds for using every thread.
  const conv2d = tidy(() => {
    const x = randn([4, 16, 32, 32]);
    const w = mul(randn([32, 16, 4, 4]), 0.1);
    const b = randn([32]);
    return F.conv2d(x, w, b, { stride: 2, padding: 1 }).data.slice();
  });
  const convTranspose2d = tidy(() => {
    const y = randn([4, 32, 16, 16]);
    const w = mul(randn([32, 16, 4, 4]), 0.1);
    return F.convTranspose2d(y, w, null, { stride: 2, padding: 1 }).data.slice();
  });

  // A tiny DCGAN (16×16×1) and pytorch/examples' loop: D on real and on detached fake, then G.
  const up = { stride: 2, padding: 1, bias: false };
  const g = new nn.Sequential(
    new nn.ConvTranspose2d(NZ, 32, 4, { bias: false }), new nn.BatchNorm2d(32), new nn.ReLU(),
    new nn.ConvTranspose2d(32, 16, 4, up), new nn.BatchNorm2d(16), new nn.ReLU(),
    new nn.ConvTranspose2d(16, 1, 4, up), new nn.Tanh(),
  );
  const d = new nn.Sequential(
    new nn.Conv2d(1, 16, 4, up), new nn.LeakyReLU(0.2),
    new nn.Conv2d(16, 32, 4, up), new nn.BatchNorm2d(32), new nn.LeakyReLU(0.2),
    new nn.Conv2d(32, 1, 4, { bias: false }),
  );
  const optD = new optim.Adam(d.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const optG = new optim.Adam(g.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
  const real = dcgan.tanh(randn([BATCH, 1, 16, 16]));
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    tidy(() => {
      const noise = randn([BATCH, NZ, 1, 1]);
      d.zeroGrad();
      const errDReal = F.binaryCrossEntropyWithLogits(d.forward(real).view([-1]), 1);
      errDReal.backward();
      const fake = g.forward(noise);
      const errDFake = F.binaryCrossEntropyWithLogits(d.forward(fake.detach()).view([-1]), 0);
      errDFake.backward();
      optD.step();
      g.zeroGrad();
      const errG = F.binaryCrossEntropyWithLogits(d.forward(fake).view([-1]), 1);
      errG.backward();
      optG.step();
      losses.push(errDReal.item(), errDFake.item(), errG.item());
    });
  }
  const params = [...g.parameters(), ...d.parameters()].map((p) => p.data.slice());
  return { conv2d, convTranspose2d, losses, params };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    // NaN anywhere must fail the comparison.
    m = d > m || Number.isNaN(d) ? (Number.isNaN(d) ? Number.POSITIVE_INFINITY : d) : m;
  }
  return m;
}

function flat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Runs everything on js, then on wasm with `threads` requested, and compares. */
export async function runChecks(dcgan: Dcgan, context: ContextReport['context'], threads: number): Promise<ContextReport> {
  let t0 = performance.now();
  dcgan.setBackend('js');
  const reference = compute(dcgan);
  const jsMs = performance.now() - t0;

  dcgan.setThreads(threads);
  const backend = await dcgan.setBackendAsync('wasm');
  t0 = performance.now();
  const got = compute(dcgan);
  const wasmMs = performance.now() - t0;

  return {
    context,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    backend: dcgan.getBackendName(),
    threads: dcgan.getThreads(),
    relaxedSimd: (backend as { relaxedSimd?: boolean }).relaxedSimd === true,
    maxDiff: {
      conv2d: maxAbsDiff(got.conv2d, reference.conv2d),
      convTranspose2d: maxAbsDiff(got.convTranspose2d, reference.convTranspose2d),
      losses: maxAbsDiff(got.losses, reference.losses),
      params: maxAbsDiff(flat(got.params), flat(reference.params)),
    },
    sizes: {
      conv2d: got.conv2d.length,
      convTranspose2d: got.convTranspose2d.length,
      losses: got.losses.length,
      params: flat(got.params).length,
    },
    ms: { js: Math.round(jsMs), wasm: Math.round(wasmMs) },
  };
}
