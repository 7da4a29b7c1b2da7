/**
 * The GAN step of pytorch/examples' dcgan, written once (the trainer and the benchmark both
 * call it), in the order a reader expects:
 *   1. D: BCE(D(x), realLabel) on a real batch, then BCE(D(G(z).detach()), 0); one Adam step.
 *   2. G: the non-saturating loss BCE(D(G(z)), 1) through the updated D; one Adam step.
 * Losses are BCE on logits. Call it inside `tidy`: it leaves activations and gradients to it.
 */
import { backward } from '../autograd/backward.js';
import { binaryCrossEntropyWithLogits } from '../ops/loss.js';
import { detach } from '../ops/reshape.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Tensor } from '../tensor/tensor.js';

/** A network that takes class labels when it is class-conditional (the DCGAN's do). */
export interface LabelledNet extends Module {
  forward(x: Tensor, labels?: readonly number[]): Tensor;
}

export interface GanModels {
  netG: LabelledNet;
  netD: LabelledNet;
  optG: Optimizer;
  optD: Optimizer;
}

export interface GanStepOptions {
  /** D's target for real images: 1, or 1 − s with one-sided label smoothing. */
  realLabel: number;
  /** Called with each loss before its optimizer step (the trainer stops on NaN there). */
  checkLoss?: (name: 'lossD' | 'lossG', value: number) => void;
  /** For class-conditional models: the real batch's labels, and the labels G is asked to draw. */
  labels?: { real: readonly number[]; fake: readonly number[] };
}

/** What one step measured. D(x) and D(G(z)) are mean probabilities (sigmoid of the logits). */
export interface GanStepLosses {
  lossD: number;
  lossG: number;
  /** Mean D(x) on the real batch. */
  D_x: number;
  /** Mean D(G(z)) during the D update (before it). */
  D_G_z1: number;
  /** Mean D(G(z)) during the G update (after the D update). */
  D_G_z2: number;
}

function meanSigmoid(logits: Float32Array): number {
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += 1 / (1 + Math.exp(-logits[i]!));
  return s / logits.length;
}

/** One D update and one G update on a real batch and a batch of noise z [N, nz, 1, 1]. */
export function ganStep({ netG, netD, optG, optD }: GanModels, real: Tensor, noise: Tensor, options: GanStepOptions): GanStepLosses {
  const { real: realLabels, fake: fakeLabels } = options.labels ?? {};
  optD.zeroGrad();
  const outReal = netD.forward(real, realLabels);
  const errDReal = binaryCrossEntropyWithLogits(outReal, options.realLabel);
  backward(errDReal);
  const fake = netG.forward(noise, fakeLabels);
  const outFake = netD.forward(detach(fake), fakeLabels);
  const errDFake = binaryCrossEntropyWithLogits(outFake, 0);
  backward(errDFake);
  const lossD = errDReal.item() + errDFake.item();
  options.checkLoss?.('lossD', lossD);
  optD.step();

  optG.zeroGrad();
  const outG = netD.forward(fake, fakeLabels);
  const errG = binaryCrossEntropyWithLogits(outG, 1);
  backward(errG);
  const lossG = errG.item();
  options.checkLoss?.('lossG', lossG);
  optG.step();
  // D's gradients from the G pass are not used; free them now rather than at the next step.
  optD.zeroGrad();
  optG.zeroGrad();
  return { lossD, lossG, D_x: meanSigmoid(outReal.data), D_G_z1: meanSigmoid(outFake.data), D_G_z2: meanSigmoid(outG.data) };
}
