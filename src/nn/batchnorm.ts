import type { FusedActivation } from '../ops/activation.js';
import { batchNorm2d } from '../ops/batchnorm.js';
import { full, zeros } from '../ops/create.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/mode.js';
import { Module } from './module.js';

export interface BatchNormLayerOptions {
  eps?: number;
  /** Running-average weight of each new batch; null for a cumulative average (PyTorch's momentum=None). */
  momentum?: number | null;
  /** Learnable per-channel scale and shift (weight, bias). */
  affine?: boolean;
  /** Keep running statistics for eval mode. */
  trackRunningStats?: boolean;
}

/**
 * BatchNorm2d with PyTorch's names and buffers (weight, bias, running_mean, running_var,
 * num_batches_tracked), so state dicts match pytorch/examples' DCGAN key for key.
 */
export class BatchNorm2d extends Module {
  readonly eps: number;
  /** Running-average weight of each new batch; null: a cumulative average (PyTorch's momentum=None). */
  momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(readonly numFeatures: number, options: BatchNormLayerOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const affine = options.affine ?? true;
    const track = options.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', affine ? full([numFeatures], 1) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? full([numFeatures], 1) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([]) : null);
  }

  forward(x: Tensor): Tensor {
    return this.forwardWithActivation(x);
  }

  /** Running mean 0, variance 1, no batches counted (PyTorch's reset_running_stats). */
  resetRunningStats(): void {
    this.runningMean?.data.fill(0);
    this.runningVar?.data.fill(1);
    this.numBatchesTracked?.data.fill(0);
  }

  /** The forward pass with a ReLU or LeakyReLU fused in (Sequential uses it for BatchNorm → activation pairs). */
  forwardWithActivation(x: Tensor, activation?: FusedActivation): Tensor {
    const counting = this.training && this.numBatchesTracked !== null;
    const count = counting ? this.numBatchesTracked!.data[0]! + 1 : 0;
    const momentum = this.momentum ?? (counting ? 1 / count : 0);
    // Without running statistics, eval mode still normalises with the batch's own.
    const useBatchStats = this.training || this.runningMean === null;
    const out = batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: useBatchStats, momentum, eps: this.eps, activation });
    // Counted only once the input was accepted, so a rejected batch leaves no trace.
    if (counting) this.numBatchesTracked!.data[0] = count;
    return out;
  }
}

/**
 * Recomputes the running statistics of every BatchNorm2d in `module` as the plain average over
 * `batches` forward passes (`forward(i)` runs batch i), in train mode and without gradients;
 * the modules' modes and momenta are restored after. Weights averaged over training (a
 * generator average) need statistics of their own: the trained weights' running statistics
 * describe other activations, and eval-mode samples normalised by them are worse (BENCHMARKS.md
 * has the FIDs).
 */
export function recomputeBatchNormStatistics(module: Module, batches: number, forward: (batch: number) => void): void {
  const norms = [...module.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d && m.runningMean !== null);
  if (norms.length === 0) return;
  const modes = [...module.namedModules()].map(([, m]) => [m, m.training] as const);
  const momenta = norms.map((m) => m.momentum);
  try {
    for (const m of norms) {
      m.resetRunningStats();
      m.momentum = null;
    }
    module.train(true);
    noGrad(() => {
      for (let i = 0; i < batches; i++) forward(i);
    });
  } finally {
    norms.forEach((m, i) => (m.momentum = momenta[i]!));
    for (const [m, training] of modes) m.training = training;
  }
}
