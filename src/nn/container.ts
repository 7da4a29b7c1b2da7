import type { Tensor } from '../tensor/tensor.js';
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
    let out = x;
    for (const layer of this.layers) out = layer.forward(out);
    return out;
  }
}
