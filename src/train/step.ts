/**
 * The GAN step of pytorch/examples' dcgan, written once (the trainer and the benchmark both
 * call it), in the order a reader expects:
 *   1. D: BCE(D(x), realLabel) on a real batch, then BCE(D(G(z).detach()), 0); one Adam step.
 *   2. G: the non-saturating loss BCE(D(G(z)), 1) through the updated D; one Adam step.
 *      D's parameters are frozen for this backward: pytorch/examples computes their gradients
 *      here and discards them (netD.zero_grad() before D's next update), so skipping them
 *      changes no value and saves D's weight-gradient pass.
 * Losses are BCE on logits. Call it inside `tidy`: it leaves activations and gradients to it.
 */
import { backward } from '../autograd/backward.js';
import { binaryCrossEntropyWithLogits } from '../ops/loss.js';
import { detach } from '../ops/reshape.js';
import { withFrozenParameters, type Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { tidy } from '../tensor/scope.js';
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

/** The parts of a step, in order (GanStepOptions.onPhaseEnd). */
export const GAN_STEP_PHASES = ['dReal', 'generate', 'dFake', 'dUpdate', 'gPass', 'gUpdate'] as const;
export type GanStepPhase = (typeof GAN_STEP_PHASES)[number];

export interface GanStepOptions {
  /** D's target for real images: 1, or 1 − s with one-sided label smoothing. */
  realLabel: number;
  /** Called with each loss before its optimizer step (the trainer stops on NaN there). */
  checkLoss?: (name: 'lossD' | 'lossG', value: number) => void;
  /** For class-conditional models: the real batch's labels, and the labels G is asked to draw. */
  labels?: { real: readonly number[]; fake: readonly number[] };
  /**
   * Called as each part of the step ends: D's pass on the real batch, G's forward, D's pass on
   * the detached fakes, D's Adam step, the pass through D into G, G's Adam step (the benchmark
   * measures memory per part with it).
   */
  onPhaseEnd?: (phase: GanStepPhase) => void;
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

/** BCE of D's logits against a target, back-propagated; the phase's activations are freed on return. */
function discriminatorPass(netD: LabelledNet, images: Tensor, labels: readonly number[] | undefined, target: number): { loss: number; meanD: number } {
  // Its own scope, as PyTorch frees a graph after backward: the activations of this pass are
  // not needed by the next one, so peak memory is one D pass (plus G's graph), not three.
  return tidy(() => {
    const logits = netD.forward(images, labels);
    const loss = binaryCrossEntropyWithLogits(logits, target);
    backward(loss);
    return { loss: loss.item(), meanD: meanSigmoid(logits.data) };
  });
}

/** One D update and one G update on a real batch and a batch of noise z [N, nz, 1, 1]. */
export function ganStep({ netG, netD, optG, optD }: GanModels, real: Tensor, noise: Tensor, options: GanStepOptions): GanStepLosses {
  const { real: realLabels, fake: fakeLabels } = options.labels ?? {};
  const ended = options.onPhaseEnd ?? ((): void => {});
  optD.zeroGrad();
  const dReal = discriminatorPass(netD, real, realLabels, options.realLabel);
  ended('dReal');
  const fake = netG.forward(noise, fakeLabels);
  ended('generate');
  const dFake = discriminatorPass(netD, detach(fake), fakeLabels, 0);
  ended('dFake');
  const lossD = dReal.loss + dFake.loss;
  options.checkLoss?.('lossD', lossD);
  optD.step();
  ended('dUpdate');

  optG.zeroGrad();
  const g = withFrozenParameters(netD, () => discriminatorPass(netD, fake, fakeLabels, 1));
  ended('gPass');
  options.checkLoss?.('lossG', g.loss);
  optG.step();
  ended('gUpdate');
  optD.zeroGrad();
  optG.zeroGrad();
  return { lossD, lossG: g.loss, D_x: dReal.meanD, D_G_z1: dFake.meanD, D_G_z2: g.meanD };
}
