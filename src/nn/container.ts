import { isGradEnabled } from '../autograd/mode.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FusedActivation } from '../ops/activation.js';
import { LeakyReLU, ReLU } from './activation.js';
import { BatchNorm2d } from './batchnorm.js';
import { Conv2d } from './conv.js';
import { Module } from './module.js';

/** Runs its children in order; they are named "0", "1", … as in PyTorch (main.0.weight, …). */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    const recording = isGradEnabled();
    let out = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const activation = layer instanceof BatchNorm2d || layer instanceof Conv2d ? fusableActivation(this.layers[i + 1]) : undefined;
      const input = out;
      if (activation !== undefined) {
        // BatchNorm or Conv2d → ReLU/LeakyReLU in one op: the same values, one buffer fewer.
        out = (layer as BatchNorm2d | Conv2d).forwardWithActivation(out, activation);
        i++;
      } else {
        out = layer.forward(out);
      }
      // An activation made here is read only by the next layer (never the input, which a layer
      // may pass on): without a graph it can go at once; with one, backward frees it early.
      if (!recording) {
        if (input !== x && input !== out) input.dispose();
      } else if (i < this.layers.length - 1 && out !== x && out.gradFn !== null) {
        out.graphOnly = true;
      }
    }
    return out;
  }
}

function fusableActivation(next: Module | undefined): FusedActivation | undefined {
  if (next instanceof ReLU) return { op: 'relu' };
  if (next instanceof LeakyReLU && next.negativeSlope >= 0) return { op: 'leakyRelu', negativeSlope: next.negativeSlope };
  return undefined;
}
