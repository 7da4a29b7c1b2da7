import { empty } from '../ops/create.js';
import { linear } from '../ops/matmul.js';
import type { Tensor } from '../tensor/tensor.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';

/** Fully connected layer y = x·Wᵀ + b, weight [outFeatures, inFeatures]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]))!;
    this.bias = this.registerParameter('bias', options.bias === false ? null : empty([outFeatures]));
    kaimingUniform_(this.weight, Math.sqrt(5));
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt(calculateFanInAndFanOut(this.weight).fanIn);
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
