import { flatten, reshape } from '../ops/reshape.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** Flattens all but the batch axis (nn.Flatten). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** Reshapes [N, …] to [N, ...shape] (nn.Unflatten of the features): a projection's vector to a volume. */
export class Unflatten extends Module {
  constructor(readonly shape: readonly number[]) {
    super();
  }

  forward(x: Tensor): Tensor {
    return reshape(x, [x.shape[0]!, ...this.shape]);
  }
}
