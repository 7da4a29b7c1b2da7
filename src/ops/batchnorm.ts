import { record } from '../autograd/record.js';
import { getBackend } from '../kernels/registry.js';
import { shapeToString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { fusedSlope, type FusedActivation } from './activation.js';
import { empty } from './create.js';

export interface BatchNormOptions {
  /** Normalise with the batch's statistics (and update the running ones) instead of the running ones. */
  training?: boolean;
  /** Weight of the new batch in the running averages (PyTorch's default 0.1). */
  momentum?: number;
  eps?: number;
  /** A ReLU or LeakyReLU applied in the output buffer (see FusedActivation). */
  activation?: FusedActivation;
}

function checkChannelVector(name: string, t: Tensor | null, c: number, xShape: readonly number[]): void {
  if (t !== null && (t.ndim !== 1 || t.shape[0] !== c)) {
    throw new RangeError(`batchNorm2d: ${name} must have shape [${c}] for input ${shapeToString(xShape)}, got ${shapeToString(t.shape)}`);
  }
}

/**
 * Batch normalisation of x [N, C, H, W] per channel, with PyTorch's semantics: training mode
 * normalises with the biased batch variance and moves the running variance towards the
 * unbiased one; eval mode uses the running statistics. Running buffers are updated in place.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  options: BatchNormOptions = {},
): Tensor {
  const { training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (x.ndim !== 4) throw new RangeError(`batchNorm2d: input must be 4-D [N, C, H, W], got shape ${shapeToString(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hw = h * w;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    checkChannelVector(name, t, c, x.shape);
  }
  if (!training && (runningMean === null || runningVar === null)) {
    throw new Error('batchNorm2d: eval mode needs running statistics (runningMean and runningVar)');
  }
  if (training && n * hw <= 1) {
    throw new RangeError(`batchNorm2d: expected more than 1 value per channel when training, got input ${shapeToString(x.shape)}`);
  }
  const backend = getBackend();
  const mean = new Float32Array(c);
  const invStd = new Float32Array(c);
  if (training) {
    const variance = new Float32Array(c);
    backend.batchNormStats(x.data, n, c, hw, mean, variance);
    const count = n * hw;
    for (let ch = 0; ch < c; ch++) {
      invStd[ch] = 1 / Math.sqrt(variance[ch]! + eps);
      if (runningMean !== null) runningMean.data[ch] = (1 - momentum) * runningMean.data[ch]! + momentum * mean[ch]!;
      if (runningVar !== null) {
        runningVar.data[ch] = (1 - momentum) * runningVar.data[ch]! + (momentum * variance[ch]! * count) / (count - 1);
      }
    }
  } else {
    mean.set(runningMean!.data);
    for (let ch = 0; ch < c; ch++) invStd[ch] = 1 / Math.sqrt(runningVar!.data[ch]! + eps);
  }
  const activation = options.activation;
  // The rectifier runs inside the normalisation's pass over the output, forward and backward.
  const slope = activation === undefined ? null : fusedSlope('batchNorm2d', activation);
  const out = empty(x.shape);
  backend.batchNormApply(x.data, n, c, hw, mean, invStd, weight?.data ?? null, bias?.data ?? null, out.data, slope);

  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record(out, activation === undefined ? 'batchNorm2d' : `batchNorm2d+${activation.op}`, inputs, (dy) => {
    const gx = x.requiresGrad ? empty(x.shape) : null;
    const gw = weight?.requiresGrad ? empty(weight.shape) : null;
    const gb = bias?.requiresGrad ? empty(bias.shape) : null;
    const rectifier = slope === null ? null : { slope, beta: bias?.data ?? null };
    getBackend().batchNormBackward(
      x.data, dy.data, n, c, hw, mean, invStd, weight?.data ?? null, training, gx?.data ?? null, gw?.data ?? null, gb?.data ?? null, rectifier,
    );
    const grads: Array<Tensor | null> = [gx];
    if (weight !== null) grads.push(gw);
    if (bias !== null) grads.push(gb);
    return grads;
  });
}
